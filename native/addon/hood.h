/* Shared helpers for the parts of hood's Node-API addon. No policy lives in the addon:
 * each function makes one syscall (or a fixed short sequence) and reports failure as a
 * JavaScript Error with code = errno name, errno = number, syscall = what was called. */
#ifndef HOOD_ADDON_H
#define HOOD_ADDON_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Throws Error("<syscall> <path>: <ENAME> (<strerror>)") with code/errno/syscall/path set.
 * Always returns NULL so callers can `return hood_throw_errno(...)`. path may be NULL. */
napi_value hood_throw_errno(napi_env env, const char *syscall, int err, const char *path);
/* Throws a TypeError with the message. Returns NULL. */
napi_value hood_throw_type(napi_env env, const char *message);
/* The errno's symbolic name ("EPERM"), or "E<number>" when unknown. */
const char *hood_errno_name(int err);

/* Argument helpers: return 0 on success, else a JS exception is pending. */
int hood_arg_int32(napi_env env, napi_value v, int32_t *out, const char *what);
int hood_arg_int64(napi_env env, napi_value v, int64_t *out, const char *what);
/* Accepts a bigint or a number. */
int hood_arg_uint64(napi_env env, napi_value v, uint64_t *out, const char *what);
/* Copies a string argument into a malloc'd NUL-terminated buffer; caller frees. */
int hood_arg_string(napi_env env, napi_value v, char **out, const char *what);

/* Declares argv[n] from the callback info; throws a TypeError when fewer were passed. */
#define ARGS(n)                                         \
  size_t argc = (n);                                    \
  napi_value argv[(n) > 0 ? (n) : 1];                   \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL); \
  if (argc < (n)) return hood_throw_type(env, "too few arguments")

static inline napi_value hood_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static inline napi_value hood_int(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

/* Adds a function to exports. */
void hood_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

/* Shared between parts (no JavaScript involved). */
/* One tar header block (tarhdr.c): 1 all zeros, 0 checksum and numbers parsed into out[10]
 * (mode, uid, gid, size, mtime, devmajor, devminor, atime, ctime, format 0 v7/1 ustar/2 gnu),
 * -1 anything else. */
int hood_tar_scan_block(const uint8_t *block, double *out);
/* Go's crc64.Update(crc, ISO table, p) (crc64.c). */
uint64_t hood_crc64_update(uint64_t crc, const uint8_t *p, size_t len);
/* The write queue (fsat.c). */
struct wq;
/* The queue behind a JS handle; NULL with a TypeError pending (not a queue, or closed). */
struct wq *hood_wq_arg(napi_env env, napi_value v);
/* A whole small file as one record, as wqFile queues it (see fsat.c). */
struct hood_wq_file {
  int dirfd;
  const char *name; /* nlen bytes, no NUL among them */
  size_t nlen;
  int open_flags, create_mode;
  const char *data;
  size_t dlen;
  const char *path; /* for messages */
  size_t plen;
  uint32_t flags, uid, gid, mode;
  struct timespec times[2];
  /* The data stays where it is, in the buffer of the caller's hood_wq_hold, instead of being
   * copied into the ring. */
  int held;
};
/* Queues it (blocking while the queue is full); 0, or -1 with an exception pending. */
int hood_wq_file(napi_env env, struct wq *q, const struct hood_wq_file *f);
/* Holds `buffer` (a reference, taken on the JS thread; at most 16 at once, it waits for a
 * slot) for the records queued until hood_wq_release, which queues its release behind them:
 * it is let go once they have run. (The queue's own WQF_REF records are a hold released by
 * the record itself.) Every hold, also after an error, must be released. 0, or -1 with an
 * exception pending. */
int hood_wq_hold(napi_env env, struct wq *q, napi_value buffer);
void hood_wq_release(napi_env env, struct wq *q);
/* The same for a file the caller created (fd): its data (copied) and a FINISH record with
 * f's flags, owner, mode, times and path; the queue closes fd. dirfd, name and the open flags
 * are not used. 0, or -1 with an exception pending. */
int hood_wq_data_finish(napi_env env, struct wq *q, int fd, const struct hood_wq_file *f);

/* Each part registers its functions from the module's init. */
void hood_register_process(napi_env env, napi_value exports);
void hood_register_fdio(napi_env env, napi_value exports);
void hood_register_fsat(napi_env env, napi_value exports);
void hood_register_ptrace(napi_env env, napi_value exports);
void hood_register_bpf(napi_env env, napi_value exports);
void hood_register_crc64(napi_env env, napi_value exports);
void hood_register_tarhdr(napi_env env, napi_value exports);
void hood_register_tarbatch(napi_env env, napi_value exports);
void hood_register_mountapi(napi_env env, napi_value exports);
void hood_register_btrfs(napi_env env, napi_value exports);

#endif
