/* hood's executor: run from a sealed memfd by the addon's clone3 child, it reads the setup
 * program from the sync socket in argv[1], walks its steps and finally execve's the
 * container's process. It decides nothing: every step and argument comes from TypeScript
 * (src/setup/). A failing step is reported as ERROR(step index, errno) and ends the
 * executor with status 1. It is single-threaded, so setns, unshare and fork are free. */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>

#define ERR(expr) ((expr) < 0 ? -errno : 0)

int send_message(int sync, uint32_t type, int32_t step, int32_t err, int64_t value) {
  struct message m = {type, step, err, 0, value};
  ssize_t n;
  do n = send(sync, &m, sizeof m, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

int send_fd(int sock, const void *data, size_t len, int fd) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {(void *)data, len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

static void fail(struct executor *x, int32_t step, int err) {
  send_message(x->sync, MSG_ERROR, step, err, 0);
  _exit(1);
}

static int step_sync(struct executor *x, int32_t index, int64_t tag) {
  int r = send_message(x->sync, MSG_SYNC, index, 0, tag);
  if (r) return r;
  uint32_t reply;
  ssize_t n;
  do n = recv(x->sync, &reply, sizeof reply, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0 || (n == sizeof reply && reply == REPLY_ABORT)) _exit(1);
  return n == sizeof reply && reply == REPLY_GO ? 0 : -EPROTO;
}

/* clone(CLONE_PARENT | flags): the new process is the executor's sibling, a child of node.
 * The old process reports its pid and leaves; the new one waits for that (the pipe closes
 * when the old one exits), so FORKED always precedes the new process's own messages. The
 * child must not use glibc's thread functions afterwards (raise, abort, pthread_*): a raw
 * clone leaves glibc's cached thread id stale; nothing here does. */
static int step_fork(struct executor *x, int32_t index, int64_t flags) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  long pid = syscall(SYS_clone, CLONE_PARENT | (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return -e;
  }
  if (pid > 0) {
    send_message(x->sync, MSG_FORKED, index, 0, pid);
    _exit(0);
  }
  close(p[1]);
  char c;
  while (read(p[0], &c, 1) < 0 && errno == EINTR) {
  }
  close(p[0]);
  return 0;
}

static int step_write_file(struct executor *x, const struct arg *a) {
  int fd = a[2].i ? open_in_root(x->root, a[0].s, O_WRONLY | O_NOCTTY, 0)
                  : open(a[0].s, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return a[2].i ? fd : -errno;
  int r = 0;
  for (uint32_t done = 0; done < a[1].len && !r;) {
    ssize_t n = write(fd, a[1].s + done, a[1].len - done);
    if (n < 0 && errno != EINTR) r = -errno;
    if (n > 0) done += (uint32_t)n;
  }
  close(fd);
  return r;
}

static int step_write_fd(const struct arg *a) {
  for (uint32_t done = 0; done < a[1].len;) {
    ssize_t n = write((int)a[0].i, a[1].s + done, a[1].len - done);
    if (n < 0 && errno != EINTR) return -errno;
    if (n > 0) done += (uint32_t)n;
  }
  return 0;
}

static int step_setgroups(const struct arg *a) {
  gid_t *gids = calloc(a->len ? a->len : 1, sizeof(gid_t));
  if (!gids) return -ENOMEM;
  for (uint32_t i = 0; i < a->len; i++) gids[i] = (gid_t)list_int(a, i);
  int r = ERR(setgroups(a->len, gids));
  free(gids);
  return r;
}

static int step_capset(const struct arg *a) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  for (int i = 0; i < 2; i++) {
    d[i].effective = (uint32_t)((uint64_t)a[0].i >> (32 * i));
    d[i].permitted = (uint32_t)((uint64_t)a[1].i >> (32 * i));
    d[i].inheritable = (uint32_t)((uint64_t)a[2].i >> (32 * i));
  }
  return ERR(syscall(SYS_capset, &h, d));
}

/* The working directory must be inside the container: a directory fd leaked from outside
 * shows as "(unreachable)/..." in the raw getcwd (CVE-2024-21626). */
static int step_chdir(struct executor *x, const struct arg *a) {
  char cwd[PATH_MAX];
  int fd = open_in_root(x->root, a[0].s, O_PATH | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  int r = ERR(fchdir(fd));
  close(fd);
  if (!r) r = ERR(syscall(SYS_getcwd, cwd, sizeof cwd));
  if (!r && cwd[0] != '/') r = -ENOENT;
  return r;
}

static int step_seccomp(struct executor *x, int32_t index, const struct arg *a) {
  if (a[1].len % sizeof(struct sock_filter) || a[1].len / sizeof(struct sock_filter) > 0xffff)
    return -EINVAL;
  struct sock_fprog prog = {(unsigned short)(a[1].len / sizeof(struct sock_filter)),
                            (struct sock_filter *)a[1].s};
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned long)a[0].i, &prog);
  if (fd < 0) return -errno;
  if (!(a[0].i & SECCOMP_FILTER_FLAG_NEW_LISTENER)) return 0;
  struct message m = {MSG_FD, index, 0, 0, a[2].i};
  int r = send_fd(x->sync, &m, sizeof m, (int)fd);
  close((int)fd);
  return r;
}

static int cmp_int(const void *a, const void *b) {
  return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Closes every fd >= first but the sync socket, the root and `keep`; kept fds are made
 * close-on-exec, so after exec exactly 0..first-1 remain. */
static int step_close_fds(struct executor *x, const struct arg *a) {
  int first = (int)a[0].i;
  int *keep = calloc((size_t)a[1].len + 2, sizeof(int));
  if (!keep || first < 0) return keep ? -EINVAL : -ENOMEM;
  size_t n = 0;
  keep[n++] = x->sync;
  if (x->root >= 0) keep[n++] = x->root;
  for (uint32_t i = 0; i < a[1].len; i++) {
    keep[n] = (int)list_int(&a[1], i);
    if (keep[n] >= 0) fcntl(keep[n++], F_SETFD, FD_CLOEXEC);
  }
  qsort(keep, n, sizeof(int), cmp_int);
  int r = 0;
  unsigned int lo = (unsigned int)first;
  for (size_t i = 0; i < n && !r; i++) {
    if (keep[i] < first) continue;
    if ((unsigned int)keep[i] > lo) r = ERR(syscall(SYS_close_range, lo, keep[i] - 1, 0));
    if ((unsigned int)keep[i] >= lo) lo = (unsigned int)keep[i] + 1;
  }
  if (!r) r = ERR(syscall(SYS_close_range, lo, ~0U, 0));
  free(keep);
  for (int fd = 0; fd < first && !r; fd++) {
    if (fd == x->sync || fd == x->root) continue;
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  return r;
}

/* Blocks until `start` opens the FIFO for reading (the fd is O_PATH: reopen it). */
static int step_wait_for_start(int64_t fifo) {
  char path[32];
  int fd;
  do fd = open(fd_path(path, (int)fifo), O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return -errno;
  int r = write(fd, "0", 1) == 1 ? 0 : -errno;
  close(fd);
  return r;
}

/* execvp's choice of errno: ENOENT unless a candidate failed for a better reason. */
static int worse(int seen, int e) { return e == ENOENT ? seen : e; }

static int step_find_exec(const struct arg *a) {
  char **c = list_strings(a);
  if (!c) return -ENOMEM;
  int err = ENOENT;
  for (char **p = c; *p; p++) {
    struct stat st;
    if (stat(*p, &st) < 0) err = worse(err, errno);
    else if (!S_ISREG(st.st_mode)) err = worse(err, EACCES);
    else if (faccessat(AT_FDCWD, *p, X_OK, AT_EACCESS) < 0) err = worse(err, errno);
    else err = 0;
    if (!err) break;
  }
  free(c);
  return -err;
}

/* The container starts with default dispositions and an empty mask, whatever node had. */
static void reset_signals(void) {
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } dfl = {(void *)SIG_DFL, 0, 0, 0};
  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
}

static int step_exec(const struct arg *a) {
  char **candidates = list_strings(&a[0]), **argv = list_strings(&a[1]),
       **envp = list_strings(&a[2]);
  if (!candidates || !argv || !envp) return -ENOMEM;
  reset_signals();
  int err = ENOENT;
  for (char **p = candidates; *p; p++) {
    execve(*p, argv, envp);
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) return -errno;
    err = worse(err, errno);
  }
  return -err;
}

static int run_step(struct executor *x, int32_t index, const struct step *s) {
  const struct arg *a = s->a;
  switch (s->op) {
  case OP_SETNS: return ERR(setns((int)a[0].i, (int)a[1].i));
  case OP_UNSHARE: return ERR(unshare((int)a[0].i));
  case OP_SYNC: return step_sync(x, index, a[0].i);
  case OP_REPORT: return send_message(x->sync, MSG_REPORT, index, 0, a[0].i);
  case OP_FORK: return step_fork(x, index, a[0].i);
  case OP_SETHOSTNAME: return ERR(sethostname(a[0].s, a[0].len));
  case OP_SETDOMAINNAME: return ERR(setdomainname(a[0].s, a[0].len));
  case OP_OPEN_ROOT: {
    int fd = open(a[0].s, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (x->root >= 0) close(x->root);
    x->root = fd;
    return 0;
  }
  case OP_MKDIR_IN_ROOT:
  case OP_MKFILE_IN_ROOT: {
    int fd = s->op == OP_MKDIR_IN_ROOT ? mkdir_in_root(x->root, a[0].s, (mode_t)a[1].i)
                                       : mkfile_in_root(x->root, a[0].s, (mode_t)a[1].i);
    if (fd >= 0) close(fd);
    return fd < 0 ? fd : 0;
  }
  case OP_MOUNT: return step_mount(x, a);
  case OP_MKNOD_IN_ROOT: return step_mknod(x, a);
  case OP_SYMLINK_IN_ROOT: return step_symlink(x, a);
  case OP_PIVOT_ROOT: return step_pivot_root(x);
  case OP_MOVE_ROOT: return step_move_root(x);
  case OP_MASK_PATH: return step_mask_path(x, a);
  case OP_READONLY_PATH: return step_readonly_path(x, a);
  case OP_WRITE_FILE: return step_write_file(x, a);
  case OP_SETRLIMIT: {
    struct rlimit rl = {(rlim_t)a[1].i, (rlim_t)a[2].i};
    return ERR(syscall(SYS_prlimit64, 0, (int)a[0].i, &rl, NULL));
  }
  case OP_SETGROUPS: return step_setgroups(&a[0]);
  case OP_SETRESGID: return ERR(setresgid((gid_t)a[0].i, (gid_t)a[0].i, (gid_t)a[0].i));
  case OP_SETRESUID: return ERR(setresuid((uid_t)a[0].i, (uid_t)a[0].i, (uid_t)a[0].i));
  case OP_PRCTL:
    return ERR(prctl((int)a[0].i, (unsigned long)a[1].i, (unsigned long)a[2].i,
                     (unsigned long)a[3].i, (unsigned long)a[4].i));
  case OP_CAPSET: return step_capset(a);
  case OP_UMASK: umask((mode_t)a[0].i); return 0;
  case OP_CHDIR: return step_chdir(x, a);
  case OP_SECCOMP: return step_seccomp(x, index, a);
  case OP_CONSOLE: return step_console(x, a);
  case OP_CLOSE_FDS: return step_close_fds(x, a);
  case OP_WAIT_FOR_START: return step_wait_for_start(a[0].i);
  case OP_FIND_EXEC: return step_find_exec(&a[0]);
  case OP_EXEC: return step_exec(a);
  case OP_CLOSE_FD: return ERR(close((int)a[0].i));
  case OP_PRIVATIZE_MOUNT: return step_privatize_mount(a);
  case OP_MOUNT_SETATTR: return step_mount_setattr(x, a);
  case OP_IDMAP_TREE: return step_idmap_tree(x, a);
  case OP_MOVE_MOUNT: return step_move_mount(x, a);
  case OP_WRITE_PROCFS: return step_write_procfs(x, a);
  case OP_WRITE_FD: return step_write_fd(a);
  }
  return -EINVAL;
}

/* The program arrives as one SEQPACKET message; static, so untouched pages cost nothing. */
static unsigned char program[PROGRAM_MAX] __attribute__((aligned(8)));

int main(int argc, char **argv) {
  struct executor x = {.sync = -1, .root = -1};
  for (int i = 0; i < TREE_SLOTS; i++) x.trees[i] = -1;
  if (argc < 2) return 1;
  char *end;
  long fd = strtol(argv[1], &end, 10);
  if (*end || fd < 0 || fd > INT_MAX) return 1;
  x.sync = (int)fd;
  /* The parent sees end-of-file on the sync socket when the final execve succeeds. */
  if (fcntl(x.sync, F_SETFD, FD_CLOEXEC) < 0) return 1;

  struct iovec iov = {program, sizeof program};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  ssize_t n;
  do n = recvmsg(x.sync, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) _exit(1); /* the parent went away before sending a program */
  if (msg.msg_flags & MSG_TRUNC) fail(&x, -1, EMSGSIZE);

  struct step *steps;
  uint32_t count;
  int32_t bad;
  if (program_decode(program, (size_t)n, &steps, &count, &bad)) fail(&x, bad, EBADMSG);
  for (uint32_t i = 0; i < count; i++) {
    int r = run_step(&x, (int32_t)i, &steps[i]);
    if (r < 0) fail(&x, (int32_t)i, -r);
  }
  _exit(0);
}
