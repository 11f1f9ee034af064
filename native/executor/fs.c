/* Filesystem steps: mount, mask-path, readonly-path, mknod, symlink, pivot-root,
 * move-root, console, and the mount-tree steps (privatize-mount, mount-setattr, idmap-tree,
 * move-mount). Paths inside the root are resolved by inroot.c. */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
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
  /* pivot_root(".", "."): the old root ends up mounted on top of the new one, at "/". It is
   * made a slave (so the unmount does not propagate to the host) and detached, without
   * needing a directory for it in the rootfs. The old root is named through an fd opened
   * before the pivot: "." after the pivot is the new root, and making that a recursive slave
   * would cut every shared volume of the container off from its host peers. */
  if (x->root < 0) return -EBADF;
  int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (old < 0) return -errno;
  int r = ERR(fchdir(x->root));
  if (!r) r = ERR(syscall(SYS_pivot_root, ".", "."));
  if (!r) r = ERR(fchdir(old));
  close(old);
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

/* ---- Mount trees: propagation of the rootfs's parent, mount_setattr, idmapped mounts. ---- */

/* Makes the mount that holds a host path private: MS_PRIVATE on the path's canonical form, and
 * on each EINVAL (not a mount point) on its parent directory, up to "/". A bind of the rootfs
 * onto itself below a shared mount would otherwise propagate to the host, and pivot_root
 * refuses a new root whose parent is shared. The kernel's own name for the path (the
 * /proc/self/fd link) is used so that a symlink in the given path cannot send the walk up the
 * wrong chain of directories. */
int step_privatize_mount(const struct arg *a) {
  char buf[32], path[PATH_MAX];
  int fd = open(a[0].s, O_PATH | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = readlink(fd_path(buf, fd), path, sizeof path - 1);
  int e = errno;
  close(fd);
  if (n <= 0 || path[0] != '/') return n < 0 ? -e : -ENOENT;
  path[n] = 0;
  for (;;) {
    if (mount(NULL, path, NULL, MS_PRIVATE, NULL) == 0) return 0;
    if (errno != EINVAL || !strcmp(path, "/")) return -errno;
    char *slash = strrchr(path, '/');
    if (slash == path) slash[1] = 0;
    else *slash = 0;
  }
}

/* mount_setattr(2) on a path in root: attributes, propagation, AT_RECURSIVE from flags. */
int step_mount_setattr(struct executor *x, const struct arg *a) {
  int fd = open_in_root(x->root, a[0].s, O_PATH, 0);
  if (fd < 0) return fd;
  struct mount_attr attr = {
      .attr_set = (uint64_t)a[2].i, .attr_clr = (uint64_t)a[3].i, .propagation = (uint64_t)a[4].i};
  int r = ERR(mount_setattr(fd, "", AT_EMPTY_PATH | (unsigned)a[1].i, &attr, sizeof attr));
  close(fd);
  return r;
}

/* Writes a whole id map in one write(2), as the kernel requires. */
static int write_map(long pid, const char *file, const struct arg *map) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/%s", pid, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, map->s, map->len);
  int r = n < 0 ? -errno : (size_t)n == map->len ? 0 : -EIO;
  close(fd);
  return r;
}

/* An fd of a new user namespace with the given maps: a child is cloned into it and waits on a
 * pipe while its maps are written and its namespace opened; closing the pipe ends it. The fd
 * keeps the namespace alive after the child is gone. */
static int userns_with_maps(const struct arg *uid, const struct arg *gid) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) {
    char c;
    close(p[1]);
    while (read(p[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  int r = pid < 0 ? -errno : 0, ns = -1;
  close(p[0]);
  if (!r) r = write_map(pid, "uid_map", uid);
  if (!r) r = write_map(pid, "gid_map", gid);
  if (!r) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
    if ((ns = open(path, O_RDONLY | O_CLOEXEC)) < 0) r = -errno;
  }
  close(p[1]);
  if (pid > 0)
    while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {
    }
  return r ? r : ns;
}

/* A detached copy of a host path (open_tree OPEN_TREE_CLONE) made idmapped with a user
 * namespace of the given maps, kept in a slot for move-mount. It must run as root of the
 * host's user namespace: the kernel lets only a process that controls the filesystem's
 * superblock idmap a mount of it, which a process inside the container's namespace is not. */
int step_idmap_tree(struct executor *x, const struct arg *a) {
  int64_t slot = a[5].i;
  if (slot < 0 || slot >= TREE_SLOTS || x->trees[slot] >= 0) return -EINVAL;
  int ns = userns_with_maps(&a[3], &a[4]);
  if (ns < 0) return ns;
  int tree = open_tree(AT_FDCWD, a[0].s, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (unsigned)a[1].i);
  int r = tree < 0 ? -errno : 0;
  if (!r) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
    r = ERR(mount_setattr(tree, "", AT_EMPTY_PATH | (unsigned)a[2].i, &attr, sizeof attr));
  }
  close(ns);
  if (r) {
    if (tree >= 0) close(tree);
    return r;
  }
  x->trees[slot] = tree;
  return 0;
}

/* Attaches the tree in a slot at a target resolved in root (created like a bind target). */
int step_move_mount(struct executor *x, const struct arg *a) {
  int64_t slot = a[0].i;
  if (slot < 0 || slot >= TREE_SLOTS || x->trees[slot] < 0) return -EBADF;
  int tree = x->trees[slot];
  int tfd = open_in_root(x->root, a[1].s, O_PATH, 0);
  if (tfd == -ENOENT && (a[2].i & HOW_CREATE_TARGET)) {
    struct stat st;
    int dir = fstat(tree, &st) == 0 && S_ISDIR(st.st_mode);
    tfd = dir ? mkdir_in_root(x->root, a[1].s, 0755) : mkfile_in_root(x->root, a[1].s, 0644);
  }
  int r = tfd < 0 ? tfd
                  : ERR(move_mount(tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
  if (tfd >= 0) close(tfd);
  close(tree);
  x->trees[slot] = -1;
  return r;
}

/* The mount id of an fd (statx STATX_MNT_ID). */
static int mount_id(int fd, uint64_t *id) {
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0) return -errno;
  if (!(stx.stx_mask & STATX_MNT_ID)) return -EOPNOTSUPP;
  *id = stx.stx_mnt_id;
  return 0;
}

/* Writes a file of the container's procfs (a sysctl): the opened file must be on the very
 * mount at /proc in root, and that mount procfs. Anything bound over the path, or a /proc
 * that is not procfs, fails with EXDEV instead of taking the write (CVE-2025-52881). */
int step_write_procfs(struct executor *x, const struct arg *a) {
  int proc = open_in_root(x->root, "/proc", O_PATH | O_DIRECTORY, 0);
  if (proc < 0) return proc;
  int fd = open_in_root(x->root, a[0].s, O_WRONLY | O_NOCTTY | O_NOFOLLOW, 0);
  uint64_t want = 0, got = 0;
  struct statfs sf;
  int r = fd < 0 ? fd : mount_id(proc, &want);
  if (!r) r = mount_id(fd, &got);
  if (!r) r = ERR(fstatfs(fd, &sf));
  if (!r && (got != want || sf.f_type != PROC_SUPER_MAGIC)) r = -EXDEV;
  for (uint32_t done = 0; done < a[1].len && !r;) {
    ssize_t n = write(fd, a[1].s + done, a[1].len - done);
    if (n < 0 && errno != EINTR) r = -errno;
    if (n > 0) done += (uint32_t)n;
  }
  if (fd >= 0) close(fd);
  close(proc);
  return r;
}
