/* The new mount API (fsopen, fsconfig, fsmount, move_mount, open_tree), legacy mount(2) and
 * umount2, for the storage drivers. Thin wrappers only: one syscall each, no policy. The new
 * API takes one overlay lower layer per fsconfig call (`lowerdir+`), so neither the number of
 * layers nor their path lengths meet mount(2)'s one-page option string. */
#include "hood.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* A string argument, or NULL for null/undefined. */
static int arg_opt_string(napi_env env, napi_value v, char **out, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    *out = NULL;
    return 0;
  }
  return hood_arg_string(env, v, out, what);
}

/* fsOpen(fsname, flags) -> fd */
static napi_value fs_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  char *name;
  int32_t flags;
  if (hood_arg_int32(env, argv[1], &flags, "flags") || hood_arg_string(env, argv[0], &name, "fsname"))
    return NULL;
  int fd = fsopen(name, (unsigned)flags | FSOPEN_CLOEXEC);
  napi_value r = fd < 0 ? hood_throw_errno(env, "fsopen", errno, name) : hood_int(env, fd);
  free(name);
  return r;
}

/* fsConfig(fd, cmd, key|null, value|null, aux) */
static napi_value fs_config(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t fd, cmd, aux;
  char *key = NULL, *value = NULL;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || hood_arg_int32(env, argv[1], &cmd, "cmd") ||
      hood_arg_int32(env, argv[4], &aux, "aux") || arg_opt_string(env, argv[2], &key, "key"))
    return NULL;
  if (arg_opt_string(env, argv[3], &value, "value")) {
    free(key);
    return NULL;
  }
  int r = fsconfig(fd, (unsigned)cmd, key, value, aux);
  napi_value out = r < 0 ? hood_throw_errno(env, "fsconfig", errno, key) : hood_undefined(env);
  free(key);
  free(value);
  return out;
}

/* fsReadLog(fd) -> string[]: the messages the filesystem left on its context fd ("e ...",
 * "w ...", "i ..."), which say why a fsconfig or create failed. */
static napi_value fs_read_log(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  napi_value arr;
  napi_create_array(env, &arr);
  char buf[1024];
  for (uint32_t i = 0; i < 64; i++) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0) break;
    napi_value s;
    napi_create_string_utf8(env, buf, (size_t)n, &s);
    napi_set_element(env, arr, i, s);
  }
  return arr;
}

/* fsMount(fd, flags, attrFlags) -> mount fd */
static napi_value fs_mount(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, flags, attrs;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || hood_arg_int32(env, argv[1], &flags, "flags") ||
      hood_arg_int32(env, argv[2], &attrs, "attrFlags"))
    return NULL;
  int m = fsmount(fd, (unsigned)flags | FSMOUNT_CLOEXEC, (unsigned)attrs);
  return m < 0 ? hood_throw_errno(env, "fsmount", errno, NULL) : hood_int(env, m);
}

/* moveMount(fromDirfd, fromPath, toDirfd, toPath, flags) */
static napi_value move_mount_fn(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t from_fd, to_fd, flags;
  char *from_path, *to_path;
  if (hood_arg_int32(env, argv[0], &from_fd, "fromDirfd") || hood_arg_int32(env, argv[2], &to_fd, "toDirfd") ||
      hood_arg_int32(env, argv[4], &flags, "flags") || hood_arg_string(env, argv[1], &from_path, "fromPath"))
    return NULL;
  if (hood_arg_string(env, argv[3], &to_path, "toPath")) {
    free(from_path);
    return NULL;
  }
  int r = move_mount(from_fd, from_path, to_fd, to_path, (unsigned)flags);
  napi_value out = r < 0 ? hood_throw_errno(env, "move_mount", errno, to_path) : hood_undefined(env);
  free(from_path);
  free(to_path);
  return out;
}

/* openTree(dirfd, path, flags) -> fd */
static napi_value open_tree_fn(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t dirfd, flags;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &flags, "flags") ||
      hood_arg_string(env, argv[1], &path, "path"))
    return NULL;
  int fd = open_tree(dirfd, path, (unsigned)flags | OPEN_TREE_CLOEXEC);
  napi_value r = fd < 0 ? hood_throw_errno(env, "open_tree", errno, path) : hood_int(env, fd);
  free(path);
  return r;
}

/* mount(source|null, target, fstype|null, flags, data|null): the legacy call. */
static napi_value mount_fn(napi_env env, napi_callback_info info) {
  ARGS(5);
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  int64_t flags;
  napi_value out = NULL;
  if (hood_arg_int64(env, argv[3], &flags, "flags")) return NULL;
  if (arg_opt_string(env, argv[0], &source, "source")) goto done;
  if (hood_arg_string(env, argv[1], &target, "target")) goto done;
  if (arg_opt_string(env, argv[2], &fstype, "fstype")) goto done;
  if (arg_opt_string(env, argv[4], &data, "data")) goto done;
  if (mount(source, target, fstype, (unsigned long)flags, data) < 0)
    out = hood_throw_errno(env, "mount", errno, target);
  else
    out = hood_undefined(env);
done:
  free(source);
  free(target);
  free(fstype);
  free(data);
  return out;
}

/* umount2(target, flags) */
static napi_value umount2_fn(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t flags;
  char *target;
  if (hood_arg_int32(env, argv[1], &flags, "flags") || hood_arg_string(env, argv[0], &target, "target"))
    return NULL;
  int r = umount2(target, flags);
  napi_value out = r < 0 ? hood_throw_errno(env, "umount2", errno, target) : hood_undefined(env);
  free(target);
  return out;
}

void hood_register_mountapi(napi_env env, napi_value exports) {
  hood_export(env, exports, "fsOpen", fs_open);
  hood_export(env, exports, "fsConfig", fs_config);
  hood_export(env, exports, "fsReadLog", fs_read_log);
  hood_export(env, exports, "fsMount", fs_mount);
  hood_export(env, exports, "moveMount", move_mount_fn);
  hood_export(env, exports, "openTree", open_tree_fn);
  hood_export(env, exports, "mount", mount_fn);
  hood_export(env, exports, "umount2", umount2_fn);
}
