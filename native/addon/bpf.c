/* bpf(2) for the cgroup v2 device filter: load a program given as raw instructions, attach it
 * to a cgroup directory fd, list and detach the programs already there. Thin wrappers: the
 * program itself is generated in TypeScript (src/linux/device-filter.ts). */
#include "hood.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* bpfProgLoad(type, insns: Buffer, license): fd. On a verifier error the message carries the
 * verifier's log, loaded again with logging on so that the common path pays nothing. */
static napi_value bpf_prog_load(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t type;
  if (hood_arg_int32(env, argv[0], &type, "type")) return NULL;
  bool is_buf = false;
  napi_is_buffer(env, argv[1], &is_buf);
  if (!is_buf) return hood_throw_type(env, "insns must be a Buffer");
  void *insns;
  size_t len;
  napi_get_buffer_info(env, argv[1], &insns, &len);
  if (len == 0 || len % 8 != 0) return hood_throw_type(env, "insns must be a multiple of 8 bytes");
  char *license;
  if (hood_arg_string(env, argv[2], &license, "license")) return NULL;

  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = (uint32_t)type;
  attr.insn_cnt = (uint32_t)(len / 8);
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.license = (uint64_t)(uintptr_t)license;
  long fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) {
    free(license);
    napi_value r;
    napi_create_int32(env, (int32_t)fd, &r);
    return r;
  }
  int err = errno;
  static char log[16384];
  log[0] = 0;
  if (err == EACCES || err == EINVAL) {
    attr.log_level = 1;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof log;
    long again = sys_bpf(BPF_PROG_LOAD, &attr);
    if (again >= 0) close((int)again);
  }
  free(license);
  /* The verifier's last lines say what it refused. */
  size_t n = strlen(log);
  const char *tail = n > 600 ? log + n - 600 : log;
  return hood_throw_errno(env, "bpf(BPF_PROG_LOAD)", err, n ? tail : NULL);
}

/* bpfProgAttach(targetFd, progFd, attachType, flags). */
static napi_value bpf_prog_attach(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t target, prog, type, flags;
  if (hood_arg_int32(env, argv[0], &target, "targetFd") ||
      hood_arg_int32(env, argv[1], &prog, "progFd") ||
      hood_arg_int32(env, argv[2], &type, "attachType") ||
      hood_arg_int32(env, argv[3], &flags, "flags"))
    return NULL;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)target;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = (uint32_t)type;
  attr.attach_flags = (uint32_t)flags;
  if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) return hood_throw_errno(env, "bpf(BPF_PROG_ATTACH)", errno, NULL);
  return hood_undefined(env);
}

/* bpfProgDetach(targetFd, progFd, attachType). */
static napi_value bpf_prog_detach(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t target, prog, type;
  if (hood_arg_int32(env, argv[0], &target, "targetFd") ||
      hood_arg_int32(env, argv[1], &prog, "progFd") ||
      hood_arg_int32(env, argv[2], &type, "attachType"))
    return NULL;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)target;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = (uint32_t)type;
  if (sys_bpf(BPF_PROG_DETACH, &attr) < 0) return hood_throw_errno(env, "bpf(BPF_PROG_DETACH)", errno, NULL);
  return hood_undefined(env);
}

/* bpfProgQuery(targetFd, attachType): the ids of the programs attached directly to the cgroup. */
static napi_value bpf_prog_query(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t target, type;
  if (hood_arg_int32(env, argv[0], &target, "targetFd") ||
      hood_arg_int32(env, argv[1], &type, "attachType"))
    return NULL;
  uint32_t ids[64];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t)target;
  attr.query.attach_type = (uint32_t)type;
  attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
  attr.query.prog_cnt = 64;
  if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) return hood_throw_errno(env, "bpf(BPF_PROG_QUERY)", errno, NULL);
  napi_value arr;
  uint32_t cnt = attr.query.prog_cnt < 64 ? attr.query.prog_cnt : 64;
  napi_create_array_with_length(env, cnt, &arr);
  for (uint32_t i = 0; i < cnt; i++) {
    napi_value v;
    napi_create_uint32(env, ids[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

/* bpfProgGetFdById(id): an fd of a loaded program, to detach it. */
static napi_value bpf_prog_get_fd_by_id(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t id;
  if (hood_arg_int32(env, argv[0], &id, "id")) return NULL;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_id = (uint32_t)id;
  long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) return hood_throw_errno(env, "bpf(BPF_PROG_GET_FD_BY_ID)", errno, NULL);
  napi_value r;
  napi_create_int32(env, (int32_t)fd, &r);
  return r;
}

void hood_register_bpf(napi_env env, napi_value exports) {
  hood_export(env, exports, "bpfProgLoad", bpf_prog_load);
  hood_export(env, exports, "bpfProgAttach", bpf_prog_attach);
  hood_export(env, exports, "bpfProgDetach", bpf_prog_detach);
  hood_export(env, exports, "bpfProgQuery", bpf_prog_query);
  hood_export(env, exports, "bpfProgGetFdById", bpf_prog_get_fd_by_id);
}
