/* ptrace-based readers. seccompGetFilter reads one loaded seccomp filter of another process
 * (PTRACE_SECCOMP_GET_FILTER): seize, interrupt, wait for the stop, fetch, detach. Needs
 * CAP_SYS_ADMIN (and ptrace access); no policy here. */
#include "hood.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

static int wait_stopped(pid_t pid) {
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, __WALL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (WIFSTOPPED(status)) return 0;
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      errno = ESRCH;
      return -1;
    }
  }
}

/* seccompGetFilter(pid, index): the filter's sock_filter bytes, or null when the process has
 * fewer than index + 1 filters. Filter 0 is the most recently installed. */
static napi_value seccomp_get_filter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t pid, index;
  if (argc < 2 || hood_arg_int32(env, argv[0], &pid, "pid") || hood_arg_int32(env, argv[1], &index, "index"))
    return NULL;
  if (pid <= 0 || index < 0) return hood_throw_type(env, "pid must be positive and index not negative");
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) return hood_throw_errno(env, "ptrace(PTRACE_SEIZE)", errno, NULL);
  napi_value result = NULL;
  int err = 0;
  const char *what = NULL;
  struct sock_filter *buf = NULL;
  if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || wait_stopped(pid) < 0) {
    err = errno;
    what = "ptrace(PTRACE_INTERRUPT)";
    goto detach;
  }
  long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)(long)index, NULL);
  if (n < 0) {
    if (errno != ENOENT) {
      err = errno;
      what = "ptrace(PTRACE_SECCOMP_GET_FILTER)";
    }
    goto detach;
  }
  buf = calloc(n > 0 ? n : 1, sizeof *buf);
  if (!buf) {
    err = ENOMEM;
    what = "calloc";
    goto detach;
  }
  n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)(long)index, buf);
  if (n < 0) {
    err = errno;
    what = "ptrace(PTRACE_SECCOMP_GET_FILTER)";
    goto detach;
  }
  void *data;
  if (napi_create_buffer_copy(env, (size_t)n * sizeof *buf, buf, &data, &result) != napi_ok) result = NULL;
detach:
  free(buf);
  /* Detaching resumes the tracee; a tracee that died meanwhile makes this fail harmlessly. */
  ptrace(PTRACE_DETACH, pid, 0, 0);
  if (what) return hood_throw_errno(env, what, err, NULL);
  if (!result) napi_get_null(env, &result);
  return result;
}

void hood_register_ptrace(napi_env env, napi_value exports) {
  hood_export(env, exports, "seccompGetFilter", seccomp_get_filter);
}
