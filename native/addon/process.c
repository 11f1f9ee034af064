/* Process creation and pidfds: spawn (raw clone3 of the executor), pidfdOpen,
 * pidfdSendSignal, pidfdWait, pidfdTryWait.
 *
 * spawn's child runs with CLONE_VM inside node's address space until it execs the
 * executor; native/README.md explains the trampoline and why the child's stack is freed
 * only after the kernel has cleared the CLONE_CHILD_CLEARTID word. */
#include "hood.h"
#include "poll.h"
#include "rawsys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The clone3 trampoline: long hood_clone3(struct clone_args *, size_t, int (*fn)(void *),
 * void *arg). glibc has no clone3 wrapper and syscall() cannot return on a new stack, so
 * the child side is written here: the kernel starts the child on the new stack with the
 * parent's registers, and only registers the syscall instruction preserves carry fn and
 * arg across it. The child calls fn(arg) and exits with its result; it never returns into
 * the parent's frames, which live on a stack the child does not own. */
#if defined(__x86_64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".type hood_clone3,@function\n"
        "hood_clone3:\n"
        "  push %r12\n" /* callee-saved: the parent restores them below */
        "  push %r13\n"
        "  mov %rdx, %r12\n"
        "  mov %rcx, %r13\n"
        "  mov $435, %eax\n" /* __NR_clone3 */
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  xor %ebp, %ebp\n"
        "  mov %r13, %rdi\n"
        "  call *%r12\n"
        "  mov %eax, %edi\n"
        "  mov $60, %eax\n" /* __NR_exit: this thread only */
        "  syscall\n"
        "  hlt\n"
        "1:\n"
        "  pop %r13\n"
        "  pop %r12\n"
        "  ret\n"
        ".size hood_clone3, .-hood_clone3\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".p2align 2\n"
        ".type hood_clone3,%function\n"
        "hood_clone3:\n"
        "  mov x9, x2\n" /* svc preserves every register but x0 */
        "  mov x10, x3\n"
        "  mov x8, #435\n"
        "  svc #0\n"
        "  cbnz x0, 1f\n"
        "  mov x29, xzr\n"
        "  mov x0, x10\n"
        "  blr x9\n"
        "  mov x8, #93\n" /* __NR_exit */
        "  svc #0\n"
        "1:\n"
        "  ret\n"
        ".size hood_clone3, .-hood_clone3\n");
#else
#error "hood's spawn needs a clone3 trampoline for this architecture (x86_64 and aarch64 only)"
#endif

long hood_clone3(struct clone_args *args, size_t size, int (*fn)(void *), void *arg)
    __attribute__((visibility("hidden")));

/* Everything the child needs, placed in the child's own mapping above its stack: spawn's
 * C frame is gone long before the child reads the start byte. */
struct child_ctl {
  /* CLONE_CHILD_CLEARTID target: 1 until the child has left node's address space (by
   * execve or by exit), then the kernel writes 0. The mapping is freed only after that. */
  volatile int32_t in_node;
  int32_t sync_fd;
  int32_t executor_fd;
  int32_t stdio[3];
  char arg0[16];
  char arg1[16];
  char empty[1];
  char *argv[3];
  char *envp[1];
  int32_t npass;
  /* The fds the child keeps (sync, executor, passFds), sorted: everything else above 2 is
   * closed before the child waits, so that node's copy of the parent's socket end is the
   * only one and node's death reads as end-of-file. */
  int32_t nkeep;
  int32_t keep[]; /* nkeep sorted fds, then npass passFds */
};

struct stack_map {
  struct stack_map *next;
  void *base;
  size_t size;
  struct child_ctl *ctl;
};

#define CHILD_STACK (64 * 1024)
#define GUARD 4096

static pthread_mutex_t stacks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stack_map *stacks;

/* Frees the mappings of children that have exec'd or exited. The kernel's write of 0 to
 * in_node happens in mm_release, after the child's last user-space instruction. */
static void sweep_stacks(void) {
  pthread_mutex_lock(&stacks_lock);
  struct stack_map **p = &stacks;
  while (*p) {
    struct stack_map *s = *p;
    if (__atomic_load_n(&s->ctl->in_node, __ATOMIC_ACQUIRE) == 0) {
      *p = s->next;
      munmap(s->base, s->size);
      free(s);
    } else {
      p = &s->next;
    }
  }
  pthread_mutex_unlock(&stacks_lock);
}

struct k_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

struct error_msg {
  uint32_t type;
  int32_t step;
  int32_t err;
  uint32_t zero;
  int64_t value;
};

/* The clone3 child. Raw syscalls only (rawsys.h); no stack protector, since it runs on a
 * stack of its own and must not depend on anything but its argument. */
__attribute__((noinline, no_stack_protector, optimize("no-tree-loop-distribute-patterns"))) static int
child_main(void *arg) {
  struct child_ctl *c = arg;
  long r;

  struct k_sigaction dfl = {(void *)SIG_DFL, 0, 0, 0};
  for (long sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    raw_syscall4(SYS_rt_sigaction, sig, &dfl, 0, 8);
  }

  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = c->stdio[i];
    /* An fd below 3 that moves elsewhere would be overwritten by an earlier dup3. */
    if (fds[i] < 3 && fds[i] != i) {
      r = raw_syscall3(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, 3);
      if (r < 0) goto fail;
      fds[i] = (int)r;
    }
  }
  for (int i = 0; i < 3; i++) {
    r = fds[i] == i ? raw_syscall3(SYS_fcntl, i, F_SETFD, 0) : raw_syscall3(SYS_dup3, fds[i], i, 0);
    if (r < 0) goto fail;
  }
  r = raw_syscall3(SYS_fcntl, c->sync_fd, F_SETFD, 0);
  if (r < 0) goto fail;
  const int32_t *pass = c->keep + c->nkeep;
  for (int i = 0; i < c->npass; i++) {
    r = raw_syscall3(SYS_fcntl, pass[i], F_SETFD, 0);
    if (r < 0) goto fail;
  }
  unsigned long lo = 3;
  for (int i = 0; i < c->nkeep; i++) {
    unsigned long k = (unsigned long)c->keep[i];
    if (k > lo && (r = raw_syscall3(SYS_close_range, lo, k - 1, 0)) < 0) goto fail;
    if (k >= lo) lo = k + 1;
  }
  r = raw_syscall3(SYS_close_range, lo, ~0U, 0);
  if (r < 0) goto fail;

  char start = 0;
  do r = raw_syscall3(SYS_read, c->sync_fd, &start, 1);
  while (r == -EINTR);
  if (r < 0) goto fail;
  if (r == 0) raw_syscall1(SYS_exit, 127); /* the parent gave up: nothing to report to */
  if (start == 'r') {
    r = raw_syscall3(SYS_setresgid, 0, 0, 0);
    if (r < 0) goto fail;
    r = raw_syscall3(SYS_setresuid, 0, 0, 0);
    if (r < 0) goto fail;
  } else if (start != 'g') {
    raw_syscall1(SYS_exit, 127);
  }

  uint64_t none = 0;
  raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
  r = raw_syscall5(SYS_execveat, c->executor_fd, c->empty, c->argv, c->envp, AT_EMPTY_PATH);

fail:;
  struct error_msg m = {5, -1, (int32_t)-r, 0, 0};
  raw_syscall6(SYS_sendto, c->sync_fd, (long)&m, sizeof m, MSG_NOSIGNAL, 0, 0);
  return 127;
}

/* Namespace bits and CLONE_INTO_CGROUP: the child code assumes nothing else is shared or
 * changed (no CLONE_FILES, CLONE_SIGHAND, CLONE_SETTLS, ...). */
#define ALLOWED_FLAGS                                                                        \
  ((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
              CLONE_NEWPID | CLONE_NEWNET | 0x80 /* CLONE_NEWTIME */) |                      \
   CLONE_INTO_CGROUP)

static int get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  bool has = false;
  napi_has_named_property(env, obj, name, &has);
  if (!has) {
    char msg[128];
    snprintf(msg, sizeof msg, "spawn options.%s is required", name);
    hood_throw_type(env, msg);
    return -1;
  }
  napi_get_named_property(env, obj, name, out);
  return 0;
}

static int get_int_array(napi_env env, napi_value obj, const char *name, int32_t **out,
                         uint32_t *count) {
  napi_value arr;
  if (get_prop(env, obj, name, &arr)) return -1;
  bool is_array = false;
  napi_is_array(env, arr, &is_array);
  if (!is_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "spawn options.%s must be an array of fds", name);
    hood_throw_type(env, msg);
    return -1;
  }
  napi_get_array_length(env, arr, count);
  *out = calloc(*count + 1, sizeof(int32_t));
  if (!*out) {
    hood_throw_errno(env, "calloc", ENOMEM, NULL);
    return -1;
  }
  for (uint32_t i = 0; i < *count; i++) {
    napi_value v;
    napi_get_element(env, arr, i, &v);
    if (hood_arg_int32(env, v, &(*out)[i], "spawn fd")) return -1;
    if ((*out)[i] < 0) {
      hood_throw_type(env, "spawn fds must be >= 0");
      return -1;
    }
  }
  return 0;
}

static int cmp_fd(const void *a, const void *b) {
  return (*(const int32_t *)a > *(const int32_t *)b) - (*(const int32_t *)a < *(const int32_t *)b);
}

static napi_value spawn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return hood_throw_type(env, "spawn needs an options object");
  napi_value o = argv[0];

  uint64_t flags;
  int32_t cgroup_fd, sync_fd, executor_fd;
  int32_t *pass = NULL, *stdio = NULL;
  uint32_t npass = 0, nstdio = 0;
  napi_value result = NULL;
  if (get_prop(env, o, "flags", &v) || hood_arg_uint64(env, v, &flags, "spawn options.flags") ||
      get_prop(env, o, "cgroupFd", &v) ||
      hood_arg_int32(env, v, &cgroup_fd, "spawn options.cgroupFd") ||
      get_prop(env, o, "syncFd", &v) || hood_arg_int32(env, v, &sync_fd, "spawn options.syncFd") ||
      get_prop(env, o, "executorFd", &v) ||
      hood_arg_int32(env, v, &executor_fd, "spawn options.executorFd") ||
      get_int_array(env, o, "passFds", &pass, &npass) ||
      get_int_array(env, o, "stdio", &stdio, &nstdio))
    goto out;
  if (nstdio != 3) {
    hood_throw_type(env, "spawn options.stdio must hold exactly 3 fds");
    goto out;
  }
  if (flags & ~ALLOWED_FLAGS) {
    hood_throw_type(env, "spawn options.flags may hold only CLONE_NEW* bits");
    goto out;
  }
  if (sync_fd < 0 || executor_fd < 0) {
    hood_throw_type(env, "spawn options.syncFd and executorFd must be >= 0");
    goto out;
  }
  if (npass > 4096) {
    hood_throw_type(env, "spawn options.passFds is too long");
    goto out;
  }

  sweep_stacks();

  size_t ctl_size =
      (sizeof(struct child_ctl) + (2 * npass + 2) * sizeof(int32_t) + 4095) & ~(size_t)4095;
  size_t size = GUARD + CHILD_STACK + ctl_size;
  void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                    -1, 0);
  if (base == MAP_FAILED) {
    hood_throw_errno(env, "mmap", errno, NULL);
    goto out;
  }
  /* A stack overflow in the child must fault, not run into node's other mappings. */
  mprotect(base, GUARD, PROT_NONE);

  struct child_ctl *c = (struct child_ctl *)((char *)base + GUARD + CHILD_STACK);
  c->in_node = 1;
  c->sync_fd = sync_fd;
  c->executor_fd = executor_fd;
  memcpy(c->stdio, stdio, sizeof c->stdio);
  snprintf(c->arg0, sizeof c->arg0, "hood-executor");
  snprintf(c->arg1, sizeof c->arg1, "%d", sync_fd);
  c->empty[0] = 0;
  c->argv[0] = c->arg0;
  c->argv[1] = c->arg1;
  c->argv[2] = NULL;
  c->envp[0] = NULL;
  c->npass = (int32_t)npass;
  c->nkeep = (int32_t)npass + 2;
  c->keep[0] = sync_fd;
  c->keep[1] = executor_fd;
  memcpy(c->keep + 2, pass, npass * sizeof(int32_t));
  qsort(c->keep, (size_t)c->nkeep, sizeof(int32_t), cmp_fd);
  memcpy(c->keep + c->nkeep, pass, npass * sizeof(int32_t));

  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_VM | CLONE_PIDFD | CLONE_CHILD_CLEARTID | CLONE_CLEAR_SIGHAND | flags;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.child_tid = (uint64_t)(uintptr_t)&c->in_node;
  args.exit_signal = SIGCHLD;
  args.stack = (uint64_t)(uintptr_t)((char *)base + GUARD);
  args.stack_size = CHILD_STACK; /* the top is 16-byte aligned: the ABI's entry alignment */
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  } else {
    args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
  }

  /* All signals blocked: a handler of node's must never run on the child's stack with the
   * child's identity. Raw, because glibc's sigprocmask keeps its internal signals open. */
  uint64_t all = ~(uint64_t)0, old = 0;
  raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
  long pid = hood_clone3(&args, sizeof args, child_main, c);
  raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);

  if (pid < 0) {
    munmap(base, size);
    hood_throw_errno(env, "clone3", (int)-pid, NULL);
    goto out;
  }

  /* Without a list entry the mapping could never be freed: keep it rather than crash. */
  struct stack_map *s = malloc(sizeof *s);
  if (!s) goto reply;
  s->base = base;
  s->size = size;
  s->ctl = c;
  pthread_mutex_lock(&stacks_lock);
  s->next = stacks;
  stacks = s;
  pthread_mutex_unlock(&stacks_lock);

reply:;
  napi_value jpid, jpidfd;
  napi_create_object(env, &result);
  napi_create_int32(env, (int32_t)pid, &jpid);
  napi_create_int32(env, pidfd, &jpidfd);
  napi_set_named_property(env, result, "pid", jpid);
  napi_set_named_property(env, result, "pidfd", jpidfd);

out:
  free(pass);
  free(stdio);
  return result;
}

static napi_value pidfd_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t pid;
  if (argc < 1 || hood_arg_int32(env, argv[0], &pid, "pid")) return NULL;
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return hood_throw_errno(env, "pidfd_open", errno, NULL);
  napi_value r;
  napi_create_int32(env, (int32_t)fd, &r);
  return r;
}

static napi_value pidfd_send_signal(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, sig;
  if (argc < 2 || hood_arg_int32(env, argv[0], &fd, "pidfd") ||
      hood_arg_int32(env, argv[1], &sig, "signal"))
    return NULL;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
    return hood_throw_errno(env, "pidfd_send_signal", errno, NULL);
  return NULL;
}

static napi_value pidfd_try_wait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || hood_arg_int32(env, argv[0], &fd, "pidfd")) return NULL;
  siginfo_t si;
  int r = hood_try_wait(fd, &si);
  if (r < 0) return hood_throw_errno(env, "waitid", -r, NULL);
  napi_value out;
  if (r == 0) {
    napi_get_null(env, &out);
    return out;
  }
  return hood_exit_status(env, &si);
}

static napi_value pidfd_wait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || hood_arg_int32(env, argv[0], &fd, "pidfd")) return NULL;
  /* Already exited: resolve without a poll round trip. */
  siginfo_t si;
  int r = hood_try_wait(fd, &si);
  if (r < 0) return hood_throw_errno(env, "waitid", -r, NULL);
  if (r == 1) {
    napi_deferred d;
    napi_value promise;
    napi_create_promise(env, &d, &promise);
    napi_resolve_deferred(env, d, hood_exit_status(env, &si));
    return promise;
  }
  return hood_poll_promise(env, fd, HOOD_POLL_PIDFD_EXIT);
}

void hood_register_process(napi_env env, napi_value exports) {
  hood_export(env, exports, "spawn", spawn);
  hood_export(env, exports, "pidfdOpen", pidfd_open);
  hood_export(env, exports, "pidfdSendSignal", pidfd_send_signal);
  hood_export(env, exports, "pidfdWait", pidfd_wait);
  hood_export(env, exports, "pidfdTryWait", pidfd_try_wait);
}
