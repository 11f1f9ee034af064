/* Path resolution inside the container's root. Every lookup goes through
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): ".." and absolute symlinks stay inside
 * the root and /proc magic links are refused, so a hostile rootfs cannot redirect a step
 * to a host path (the symlink races behind most runtime CVEs). A path is never joined as
 * a string; a resolved fd is handed to path-taking syscalls as /proc/self/fd/N. */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *fd_path(char *buf, int fd) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

int open_in_root(int root, const char *path, int flags, mode_t mode) {
  if (root < 0) return -EBADF;
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .mode = (flags & O_CREAT) ? mode : 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  long fd;
  do fd = syscall(SYS_openat2, root, *path ? path : "/", &how, sizeof how);
  while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return fd < 0 ? -errno : (int)fd;
}

int mkdir_in_root(int root, const char *path, mode_t mode) {
  char buf[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, len + 1);

  /* Walk the prefixes: each is resolved in root afresh, so a symlink met on the way
   * (even one created concurrently) is followed inside the root only. */
  int parent = open_in_root(root, "/", O_PATH | O_DIRECTORY, 0);
  size_t i = 0;
  while (parent >= 0) {
    while (buf[i] == '/') i++;
    if (!buf[i]) break;
    size_t end = i;
    while (buf[end] && buf[end] != '/') end++;
    char saved = buf[end];
    buf[end] = 0;
    int fd = open_in_root(root, buf, O_PATH | O_DIRECTORY, 0);
    if (fd == -ENOENT) {
      if (mkdirat(parent, buf + i, mode) < 0 && errno != EEXIST) fd = -errno;
      else fd = open_in_root(root, buf, O_PATH | O_DIRECTORY, 0);
    }
    buf[end] = saved;
    close(parent);
    parent = fd;
    i = end;
  }
  return parent;
}

int parent_in_root(int root, const char *path, char *base) {
  char dir[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof dir) return -ENAMETOOLONG;
  memcpy(dir, path, len + 1);
  while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
  char *slash = strrchr(dir, '/');
  const char *name = slash ? slash + 1 : dir;
  if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) return -EINVAL;
  strcpy(base, name);
  if (slash) slash[1] = 0;
  else dir[0] = 0;
  return open_in_root(root, dir, O_PATH | O_DIRECTORY, 0);
}

int mkfile_in_root(int root, const char *path, mode_t mode) {
  int fd = open_in_root(root, path, O_PATH, 0);
  if (fd != -ENOENT) return fd;
  char base[PATH_MAX], dir[PATH_MAX];
  int parent = parent_in_root(root, path, base);
  if (parent == -ENOENT) {
    size_t n = strlen(path) - strlen(base);
    memcpy(dir, path, n);
    dir[n] = 0;
    parent = mkdir_in_root(root, dir, 0755);
  }
  if (parent < 0) return parent;
  close(parent);
  /* O_EXCL: never truncate, never open (and so trigger) a device or FIFO that won a race. */
  fd = open_in_root(root, path, O_RDONLY | O_CREAT | O_EXCL | O_NOCTTY, mode);
  if (fd >= 0 || fd == -EEXIST) {
    if (fd >= 0) close(fd);
    fd = open_in_root(root, path, O_PATH, 0);
  }
  return fd;
}
