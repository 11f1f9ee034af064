/* uv_poll handles that settle a promise: the readiness half of pidfdWait and waitReadable. */
#include "poll.h"
#include "hood.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <uv.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int hood_try_wait(int pidfd, siginfo_t *si) {
  memset(si, 0, sizeof *si);
  if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, si, WEXITED | WNOHANG) < 0) return -errno;
  return si->si_pid != 0;
}

napi_value hood_exit_status(napi_env env, const siginfo_t *si) {
  napi_value o, code, sig;
  napi_create_object(env, &o);
  napi_get_null(env, &code);
  napi_get_null(env, &sig);
  if (si->si_code == CLD_EXITED)
    napi_create_int32(env, si->si_status, &code);
  else
    napi_create_int32(env, si->si_status, &sig);
  napi_set_named_property(env, o, "code", code);
  napi_set_named_property(env, o, "signal", sig);
  return o;
}

struct poll_req {
  uv_poll_t handle;
  napi_env env;
  napi_deferred deferred;
  napi_ref resource;
  napi_async_context context;
  enum hood_poll_kind kind;
  int fd;
};

static void poll_closed(uv_handle_t *h) { free(h->data); }

/* The environment is going away (a worker ends, node exits) with the promise unsettled. */
static void poll_env_teardown(void *arg) {
  struct poll_req *r = arg;
  uv_poll_stop(&r->handle);
  uv_close((uv_handle_t *)&r->handle, poll_closed);
}

static napi_value errno_error(napi_env env, const char *syscall, int err) {
  napi_value code, msg, error, num;
  char text[160];
  snprintf(text, sizeof text, "%s: %s (%s)", syscall, hood_errno_name(err), strerror(err));
  napi_create_string_utf8(env, hood_errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &msg);
  napi_set_named_property(env, error, "syscall", msg);
  return error;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct poll_req *r = h->data;
  napi_env env = r->env;
  siginfo_t si;
  int err = status < 0 ? -status : 0;
  /* libuv reports POLLERR as UV_EBADF. For waitReadable an error is an event like any
   * other (a peer that closed with our message unread sets ECONNRESET): the caller's next
   * read returns the real error. */
  if (r->kind == HOOD_POLL_READABLE) err = 0;
  if (!err && r->kind == HOOD_POLL_PIDFD_EXIT) {
    int w = hood_try_wait(r->fd, &si);
    if (w == 0) return; /* readable but not reapable (yet): keep waiting */
    if (w < 0) err = -w;
  }
  uv_poll_stop(h);
  napi_remove_env_cleanup_hook(env, poll_env_teardown, r);

  /* A callback scope, so that the promise's reactions and nextTicks run now, as they do
   * after any other libuv callback. */
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value resource, value;
  napi_get_reference_value(env, r->resource, &resource);
  napi_callback_scope cs;
  napi_open_callback_scope(env, resource, r->context, &cs);
  if (err) {
    value = errno_error(env, r->kind == HOOD_POLL_PIDFD_EXIT ? "waitid" : "poll", err);
    napi_reject_deferred(env, r->deferred, value);
  } else {
    if (r->kind == HOOD_POLL_PIDFD_EXIT)
      value = hood_exit_status(env, &si);
    else
      napi_get_undefined(env, &value);
    napi_resolve_deferred(env, r->deferred, value);
  }
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);

  napi_delete_reference(env, r->resource);
  napi_async_destroy(env, r->context);
  uv_close((uv_handle_t *)h, poll_closed);
}

napi_value hood_poll_promise(napi_env env, int fd, enum hood_poll_kind kind) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return hood_throw_type(env, "no event loop");
  struct poll_req *r = calloc(1, sizeof *r);
  if (!r) return hood_throw_errno(env, "calloc", ENOMEM, NULL);
  r->env = env;
  r->fd = fd;
  r->kind = kind;
  int e = uv_poll_init(loop, &r->handle, fd);
  if (e < 0) {
    free(r);
    return hood_throw_errno(env, "uv_poll_init", -e, NULL);
  }
  r->handle.data = r;
  int events = kind == HOOD_POLL_READABLE ? UV_READABLE | UV_DISCONNECT : UV_READABLE;
  e = uv_poll_start(&r->handle, events, on_poll);
  if (e < 0) {
    uv_close((uv_handle_t *)&r->handle, poll_closed);
    return hood_throw_errno(env, "uv_poll_start", -e, NULL);
  }
  napi_value promise, resource, name;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, kind == HOOD_POLL_READABLE ? "hood:waitReadable" : "hood:pidfdWait",
                          NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, resource, 1, &r->resource);
  napi_async_init(env, resource, name, &r->context);
  napi_add_env_cleanup_hook(env, poll_env_teardown, r);
  return promise;
}

/* waitAnyReadable: one uv_poll per fd; the first that fires settles the promise with its index
 * and every handle of the group is stopped and closed, so that no poll outlives the wait and
 * the caller may close any of the fds right away. */
struct any_group;
struct any_member {
  uv_poll_t handle;
  struct any_group *group;
  int index;
};
struct any_group {
  napi_env env;
  napi_deferred deferred;
  napi_ref resource;
  napi_async_context context;
  int count;
  int open;
  int settled;
  struct any_member members[];
};

static void any_closed(uv_handle_t *h) {
  struct any_member *m = h->data;
  struct any_group *g = m->group;
  if (--g->open == 0) free(g);
}

static void any_close_all(struct any_group *g) {
  for (int i = 0; i < g->count; i++) {
    uv_poll_stop(&g->members[i].handle);
    uv_close((uv_handle_t *)&g->members[i].handle, any_closed);
  }
}

static void any_env_teardown(void *arg) { any_close_all(arg); }

static void on_any(uv_poll_t *h, int status, int events) {
  struct any_member *m = h->data;
  struct any_group *g = m->group;
  if (g->settled) return;
  g->settled = 1;
  napi_env env = g->env;
  napi_remove_env_cleanup_hook(env, any_env_teardown, g);
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value resource, value;
  napi_get_reference_value(env, g->resource, &resource);
  napi_callback_scope cs;
  napi_open_callback_scope(env, resource, g->context, &cs);
  napi_create_int32(env, m->index, &value);
  napi_resolve_deferred(env, g->deferred, value);
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
  napi_delete_reference(env, g->resource);
  napi_async_destroy(env, g->context);
  any_close_all(g);
}

napi_value hood_poll_any(napi_env env, const int *fds, int count) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return hood_throw_type(env, "no event loop");
  if (count < 1 || count > 64) return hood_throw_type(env, "waitAnyReadable takes 1 to 64 fds");
  struct any_group *g = calloc(1, sizeof *g + (size_t)count * sizeof g->members[0]);
  if (!g) return hood_throw_errno(env, "calloc", ENOMEM, NULL);
  g->env = env;
  g->count = 0;
  for (int i = 0; i < count; i++) {
    struct any_member *m = &g->members[i];
    m->group = g;
    m->index = i;
    int e = uv_poll_init(loop, &m->handle, fds[i]);
    if (e == 0) {
      m->handle.data = m;
      g->count++;
      g->open++;
      e = uv_poll_start(&m->handle, UV_READABLE | UV_DISCONNECT, on_any);
    }
    if (e < 0) {
      g->settled = 1;
      if (g->count == 0) free(g);
      else any_close_all(g);
      return hood_throw_errno(env, "uv_poll_start", -e, NULL);
    }
  }
  napi_value promise, resource, name;
  napi_create_promise(env, &g->deferred, &promise);
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "hood:waitAnyReadable", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, resource, 1, &g->resource);
  napi_async_init(env, resource, name, &g->context);
  napi_add_env_cleanup_hook(env, any_env_teardown, g);
  return promise;
}
