/* hood's Node-API addon: module init and the helpers every part shares. */
#include "hood.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hood_errno_name(int err) {
  const char *name = strerrorname_np(err);
  if (name) return name;
  static __thread char buf[16];
  snprintf(buf, sizeof buf, "E%d", err);
  return buf;
}

napi_value hood_throw_errno(napi_env env, const char *syscall, int err, const char *path) {
  char msg[4096];
  const char *name = hood_errno_name(err);
  if (path)
    snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, path, name, strerror(err));
  else
    snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, name, strerror(err));
  napi_value message, code, error, num, sc;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, error, "path", p);
  }
  napi_throw(env, error);
  return NULL;
}

napi_value hood_throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

int hood_arg_int32(napi_env env, napi_value v, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    hood_throw_type(env, msg);
    return -1;
  }
  return 0;
}

int hood_arg_int64(napi_env env, napi_value v, int64_t *out, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    napi_get_value_bigint_int64(env, v, out, &lossless);
    return 0;
  }
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s must be a number or bigint", what);
    hood_throw_type(env, msg);
    return -1;
  }
  return 0;
}

int hood_arg_uint64(napi_env env, napi_value v, uint64_t *out, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    napi_get_value_bigint_uint64(env, v, out, &lossless);
    return 0;
  }
  int64_t s;
  if (napi_get_value_int64(env, v, &s) != napi_ok) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s must be a number or bigint", what);
    hood_throw_type(env, msg);
    return -1;
  }
  *out = (uint64_t)s;
  return 0;
}

int hood_arg_string(napi_env env, napi_value v, char **out, const char *what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    hood_throw_type(env, msg);
    return -1;
  }
  char *buf = malloc(len + 1);
  if (!buf) {
    hood_throw_errno(env, "malloc", ENOMEM, NULL);
    return -1;
  }
  napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  *out = buf;
  return 0;
}

void hood_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}

static napi_value init(napi_env env, napi_value exports) {
  hood_register_process(env, exports);
  hood_register_fdio(env, exports);
  hood_register_fsat(env, exports);
  hood_register_ptrace(env, exports);
  hood_register_bpf(env, exports);
  hood_register_crc64(env, exports);
  hood_register_tarhdr(env, exports);
  hood_register_tarbatch(env, exports);
  hood_register_mountapi(env, exports);
  hood_register_btrfs(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
