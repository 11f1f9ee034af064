/* Filesystem steps: mount, mask-path, readonly-path, mknod, symlink, pivot-root,
 * move-root, console. Paths inside the root are resolved by inroot.c. */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define ERR(expr) ((expr) < 0 ? -errno : 0)

/* Replaces the root fd with "/" after the root has moved there. */
static int reopen_root(struct executor *x) {
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  if (x->root >= 0) close(x->root);
  x->root = fd;
  return 0;
}

/* Whether a bind source is a directory, so the created target must be one too. */
static int source_is_dir(int source_fd, const char *source) {
  struct stat st;
  int r = source_fd >= 0 ? fstat(source_fd, &st) : stat(source, &st);
  return r == 0 && S_ISDIR(st.st_mode);
}

int step_mount(struct executor *x, const struct arg *a) {
  const char *source = a[0].s, *target = a[1].s, *fstype = a[2].s, *data = a[4].s;
  unsigned long flags = (unsigned long)a[3].i;
  int64_t how = a[5].i;
  char sbuf[32], tbuf[32];
  int sfd = -1, tfd = -1, r = 0;

  if (how & HOW_SOURCE_NULL) {
    source = NULL;
  } else if (how & HOW_SOURCE_IN_ROOT) {
    if ((sfd = open_in_root(x->root, source, O_PATH, 0)) < 0) return sfd;
    source = fd_path(sbuf, sfd);
  }
  if (how & HOW_TARGET_IN_ROOT) {
    tfd = open_in_root(x->root, target, O_PATH, 0);
    if (tfd == -ENOENT && (how & HOW_CREATE_TARGET)) {
      int dir = !source || !(flags & MS_BIND) || source_is_dir(sfd, source);
      tfd = dir ? mkdir_in_root(x->root, target, 0755) : mkfile_in_root(x->root, target, 0644);
    }
    if (tfd < 0) {
      r = tfd;
      goto out;
    }
    target = fd_path(tbuf, tfd);
  }
  r = ERR(mount(source, target, *fstype ? fstype : NULL, flags, *data ? data : NULL));
out:
  if (sfd >= 0) close(sfd);
  if (tfd >= 0) close(tfd);
  return r;
}

int step_mask_path(struct executor *x, const struct arg *a) {
  char tbuf[32], nbuf[32];
  struct stat st;
  int fd = open_in_root(x->root, a[0].s, O_PATH, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return fd;
  int r = ERR(fstat(fd, &st));
  if (r == 0 && S_ISDIR(st.st_mode)) {
    r = ERR(mount("tmpfs", fd_path(tbuf, fd), "tmpfs", MS_RDONLY, NULL));
  } else if (r == 0) {
    /* The container's /dev/null may have been replaced by anything (CVE-2025-31133):
     * bind only the real null device. */
    int null = open_in_root(x->root, "/dev/null", O_PATH, 0);
    if (null < 0) r = null;
    else if (fstat(null, &st) < 0) r = -errno;
    else if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) r = -ENODEV;
    else r = ERR(mount(fd_path(nbuf, null), fd_path(tbuf, fd), NULL, MS_BIND, NULL));
    if (null >= 0) close(null);
  }
  close(fd);
  return r;
}

int step_readonly_path(struct executor *x, const struct arg *a) {
  char buf[32];
  struct statvfs sv;
  int fd = open_in_root(x->root, a[0].s, O_PATH, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return fd;
  int r = ERR(mount(fd_path(buf, fd), buf, NULL, MS_BIND | MS_REC, NULL));
  close(fd);
  if (r) return r;
  /* Resolve again: the old fd still names the mount underneath the new bind. */
  if ((fd = open_in_root(x->root, a[0].s, O_PATH, 0)) < 0) return fd;
  r = ERR(fstatvfs(fd, &sv));
  if (r == 0) {
    /* Flags the remount must keep: a user namespace may not clear locked ones. */
    static const unsigned long keep[][2] = {
        {ST_NOSUID, MS_NOSUID},     {ST_NODEV, MS_NODEV},
        {ST_NOEXEC, MS_NOEXEC},     {ST_NOATIME, MS_NOATIME},
        {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
      if (sv.f_flag & keep[i][0]) flags |= keep[i][1];
    r = ERR(mount(NULL, fd_path(buf, fd), NULL, flags, NULL));
  }
  close(fd);
  return r;
}

int step_mknod(struct executor *x, const struct arg *a) {
  char base[PATH_MAX];
  int dir = parent_in_root(x->root, a[0].s, base);
  if (dir < 0) return dir;
  int r = ERR(mknodat(dir, base, (mode_t)a[1].i, (dev_t)a[2].i));
  if (r == -EEXIST) r = 0; /* as runc: an existing node is left as it is */
  else if (r == 0) r = ERR(fchownat(dir, base, (uid_t)a[3].i, (gid_t)a[4].i, AT_SYMLINK_NOFOLLOW));
  close(dir);
  return r;
}

int step_symlink(struct executor *x, const struct arg *a) {
  char base[PATH_MAX];
  int dir = parent_in_root(x->root, a[1].s, base);
  if (dir < 0) return dir;
  int r = ERR(symlinkat(a[0].s, dir, base));
  close(dir);
  return r == -EEXIST ? 0 : r;
}

int step_pivot_root(struct executor *x) {
  /* pivot_root(".", "."): the old root ends up mounted on top of the new one, at "/",
   * where it is made a slave (so the unmount does not propagate to the host) and
   * detached, without needing a directory for it in the rootfs. */
  if (x->root < 0) return -EBADF;
  int r = ERR(fchdir(x->root));
  if (!r) r = ERR(syscall(SYS_pivot_root, ".", "."));
  if (!r) r = ERR(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL));
  if (!r) r = ERR(umount2(".", MNT_DETACH));
  if (!r) r = ERR(chdir("/"));
  return r ? r : reopen_root(x);
}

int step_move_root(struct executor *x) {
  if (x->root < 0) return -EBADF;
  int r = ERR(fchdir(x->root));
  if (!r) r = ERR(mount(".", "/", NULL, MS_MOVE, NULL));
  if (!r) r = ERR(chroot("."));
  if (!r) r = ERR(chdir("/"));
  return r ? r : reopen_root(x);
}

int step_console(struct executor *x, const struct arg *a) {
  int unlock = 0;
  int master = open_in_root(x->root, "/dev/ptmx", O_RDWR | O_NOCTTY, 0);
  if (master < 0) return master;
  int r = ERR(ioctl(master, TIOCSPTLCK, &unlock));
  if (!r && (a[1].i > 0 || a[2].i > 0)) {
    struct winsize ws = {.ws_row = (unsigned short)a[1].i, .ws_col = (unsigned short)a[2].i};
    r = ERR(ioctl(master, TIOCSWINSZ, &ws));
  }
  /* The same message runc sends to a --console-socket: the name as data, the fd attached. */
  if (!r) r = send_fd((int)a[0].i, "/dev/ptmx", 9, master);
  int peer = r ? -1 : ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (!r && peer < 0) r = -errno;
  close(master);
  if (!r) r = ERR(setsid());
  if (!r) r = ERR(ioctl(peer, TIOCSCTTY, 0));
  for (int fd = 0; fd < 3 && !r; fd++) r = ERR(dup3(peer, fd, 0));
  if (peer > 2) close(peer);
  return r;
}
