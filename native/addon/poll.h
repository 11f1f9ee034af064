/* Promises resolved from uv_poll callbacks: pidfdWait and waitReadable. */
#ifndef HOOD_POLL_H
#define HOOD_POLL_H

#include <node_api.h>
#include <signal.h>

/* waitid(P_PIDFD, fd, WEXITED | WNOHANG): 1 with *si filled, 0 while running, -errno. */
int hood_try_wait(int pidfd, siginfo_t *si);
/* { code, signal } from a CLD_* siginfo. */
napi_value hood_exit_status(napi_env env, const siginfo_t *si);

enum hood_poll_kind {
  /* Resolves with the exit status once waitid(P_PIDFD) reaps the child. */
  HOOD_POLL_PIDFD_EXIT,
  /* Resolves with undefined once fd is readable, hung up or in error (the next read says
   * which). */
  HOOD_POLL_READABLE,
};

/* Starts a uv_poll on fd and returns its promise, or NULL with an exception pending. The
 * handle keeps the loop alive only while it waits; it is stopped and closed when it fires.
 * libuv allows one poll handle per fd: never wait twice on one fd at the same time. */
napi_value hood_poll_promise(napi_env env, int fd, enum hood_poll_kind kind);

/* A promise of the index of the first of fds to become readable (or hung up); every poll of
 * the group is closed when it settles. */
napi_value hood_poll_any(napi_env env, const int *fds, int count);

#endif
