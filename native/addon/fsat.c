/* fd-relative filesystem syscalls that Node lacks, for safe tar extraction and for reading an
 * overlay upper dir. Thin wrappers only: one syscall each, no policy. Paths are byte strings
 * (a Buffer, or a JS string taken as UTF-8) because tar names need not be UTF-8. */
#include "hood.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* A path argument: a Buffer/Uint8Array (bytes, must not contain NUL) or a string. */
static int arg_path(napi_env env, napi_value v, char **out, const char *what) {
  bool is_buf = false, is_typed = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf) napi_is_typedarray(env, v, &is_typed);
  if (is_buf || is_typed) {
    void *data = NULL;
    size_t len = 0;
    if (is_buf) {
      napi_get_buffer_info(env, v, &data, &len);
    } else {
      napi_typedarray_type t;
      napi_value ab;
      size_t off;
      napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off);
    }
    if (memchr(data, 0, len)) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s must not contain a NUL byte", what);
      hood_throw_type(env, msg);
      return -1;
    }
    char *s = malloc(len + 1);
    if (!s) {
      hood_throw_errno(env, "malloc", ENOMEM, NULL);
      return -1;
    }
    memcpy(s, data, len);
    s[len] = 0;
    *out = s;
    return 0;
  }
  return hood_arg_string(env, v, out, what);
}

/* fsatOpen(dirfd, path, flags, mode, resolve) -> fd, via openat2. */
static napi_value fsat_open(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t dirfd, flags, mode, resolve;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &flags, "flags") ||
      hood_arg_int32(env, argv[3], &mode, "mode") || hood_arg_int32(env, argv[4], &resolve, "resolve") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  struct open_how how = {.flags = (uint64_t)(uint32_t)flags | O_CLOEXEC,
                         .mode = (flags & (O_CREAT | __O_TMPFILE)) ? (uint64_t)mode : 0,
                         .resolve = (uint64_t)(uint32_t)resolve};
  long fd;
  do fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    napi_value r = hood_throw_errno(env, "openat2", errno, path);
    free(path);
    return r;
  }
  free(path);
  return hood_int(env, fd);
}

/* fsatMkdir(dirfd, path, mode) */
static napi_value fsat_mkdir(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t dirfd, mode;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &mode, "mode") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  int r = mkdirat(dirfd, path, (mode_t)mode);
  napi_value out = r < 0 ? hood_throw_errno(env, "mkdirat", errno, path) : hood_undefined(env);
  free(path);
  return out;
}

/* fsatMknod(dirfd, path, mode, major, minor) */
static napi_value fsat_mknod(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t dirfd, mode, major, minor;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &mode, "mode") ||
      hood_arg_int32(env, argv[3], &major, "major") || hood_arg_int32(env, argv[4], &minor, "minor") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  int r = mknodat(dirfd, path, (mode_t)mode, makedev((unsigned)major, (unsigned)minor));
  napi_value out = r < 0 ? hood_throw_errno(env, "mknodat", errno, path) : hood_undefined(env);
  free(path);
  return out;
}

/* fsatSymlink(target, dirfd, path) */
static napi_value fsat_symlink(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t dirfd;
  char *target, *path;
  if (hood_arg_int32(env, argv[1], &dirfd, "dirfd") || arg_path(env, argv[0], &target, "target")) return NULL;
  if (arg_path(env, argv[2], &path, "path")) {
    free(target);
    return NULL;
  }
  int r = symlinkat(target, dirfd, path);
  napi_value out = r < 0 ? hood_throw_errno(env, "symlinkat", errno, path) : hood_undefined(env);
  free(target);
  free(path);
  return out;
}

/* fsatLink(olddirfd, oldpath, newdirfd, newpath, flags) */
static napi_value fsat_link(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t olddir, newdir, flags;
  char *oldpath, *newpath;
  if (hood_arg_int32(env, argv[0], &olddir, "olddirfd") || hood_arg_int32(env, argv[2], &newdir, "newdirfd") ||
      hood_arg_int32(env, argv[4], &flags, "flags") || arg_path(env, argv[1], &oldpath, "oldpath"))
    return NULL;
  if (arg_path(env, argv[3], &newpath, "newpath")) {
    free(oldpath);
    return NULL;
  }
  int r = linkat(olddir, oldpath, newdir, newpath, flags);
  napi_value out = r < 0 ? hood_throw_errno(env, "linkat", errno, newpath) : hood_undefined(env);
  free(oldpath);
  free(newpath);
  return out;
}

/* fsatChown(dirfd, path, uid, gid, flags); an empty path with AT_EMPTY_PATH means dirfd itself. */
static napi_value fsat_chown(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t dirfd, uid, gid, flags;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &uid, "uid") ||
      hood_arg_int32(env, argv[3], &gid, "gid") || hood_arg_int32(env, argv[4], &flags, "flags") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  int r = fchownat(dirfd, path, (uid_t)uid, (gid_t)gid, flags);
  napi_value out = r < 0 ? hood_throw_errno(env, "fchownat", errno, path) : hood_undefined(env);
  free(path);
  return out;
}

/* fsatUtimens(dirfd, path, atimeSec, atimeNsec, mtimeSec, mtimeNsec, flags); "" = dirfd itself. */
static napi_value fsat_utimens(napi_env env, napi_callback_info info) {
  ARGS(7);
  int32_t dirfd, flags;
  int64_t as, an, ms, mn;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int64(env, argv[2], &as, "atimeSec") ||
      hood_arg_int64(env, argv[3], &an, "atimeNsec") || hood_arg_int64(env, argv[4], &ms, "mtimeSec") ||
      hood_arg_int64(env, argv[5], &mn, "mtimeNsec") || hood_arg_int32(env, argv[6], &flags, "flags") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  struct timespec ts[2] = {{.tv_sec = as, .tv_nsec = an}, {.tv_sec = ms, .tv_nsec = mn}};
  /* The raw syscall accepts a NULL path (the fd itself), which glibc's wrapper declares nonnull. */
  int r = (int)syscall(SYS_utimensat, dirfd, path[0] ? path : NULL, ts, path[0] ? flags : 0);
  napi_value out = r < 0 ? hood_throw_errno(env, "utimensat", errno, path) : hood_undefined(env);
  free(path);
  return out;
}

/* The /proc/self/fd path of an fd: works for O_PATH fds of symlinks, where f*xattr do not. */
static void fd_path(char *buf, size_t n, int fd) { snprintf(buf, n, "/proc/self/fd/%d", fd); }

/* fsatSetxattr(fd, name, value: Buffer, flags); fd may be an O_PATH fd (e.g. of a symlink). */
static napi_value fsat_setxattr(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd, flags;
  char *name;
  void *data;
  size_t len;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || hood_arg_int32(env, argv[3], &flags, "flags") ||
      arg_path(env, argv[1], &name, "name"))
    return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    free(name);
    return hood_throw_type(env, "value must be a Buffer");
  }
  int r = fsetxattr(fd, name, data, len, flags);
  if (r < 0 && errno == EBADF) {
    char p[64];
    fd_path(p, sizeof p, fd);
    r = setxattr(p, name, data, len, flags);
  }
  napi_value out = r < 0 ? hood_throw_errno(env, "setxattr", errno, name) : hood_undefined(env);
  free(name);
  return out;
}

/* fsatGetxattr(fd, name) -> Buffer, or null when the attribute is missing. */
static napi_value fsat_getxattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  char *name;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || arg_path(env, argv[1], &name, "name")) return NULL;
  char p[64];
  fd_path(p, sizeof p, fd);
  char stackbuf[4096];
  char *buf = stackbuf;
  size_t cap = sizeof stackbuf;
  ssize_t n;
  for (;;) {
    n = getxattr(p, name, buf, cap);
    if (n >= 0 || errno != ERANGE) break;
    ssize_t need = getxattr(p, name, NULL, 0);
    if (need < 0) {
      n = need;
      break;
    }
    if (buf != stackbuf) free(buf);
    cap = (size_t)need + 1;
    buf = malloc(cap);
    if (!buf) {
      free(name);
      return hood_throw_errno(env, "malloc", ENOMEM, NULL);
    }
  }
  napi_value out;
  if (n < 0) {
    if (errno == ENODATA) napi_get_null(env, &out);
    else out = hood_throw_errno(env, "getxattr", errno, name);
  } else {
    void *dst;
    napi_create_buffer_copy(env, (size_t)n, buf, &dst, &out);
  }
  if (buf != stackbuf) free(buf);
  free(name);
  return out;
}

/* fsatListxattr(fd) -> Buffer of NUL-separated names (fd may be O_PATH). */
static napi_value fsat_listxattr(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  char p[64];
  fd_path(p, sizeof p, fd);
  for (;;) {
    ssize_t need = listxattr(p, NULL, 0);
    if (need < 0) return hood_throw_errno(env, "listxattr", errno, NULL);
    char *buf = malloc((size_t)need + 1);
    if (!buf) return hood_throw_errno(env, "malloc", ENOMEM, NULL);
    ssize_t n = listxattr(p, buf, (size_t)need + 1);
    if (n < 0 && errno == ERANGE) {
      free(buf);
      continue;
    }
    if (n < 0) {
      free(buf);
      return hood_throw_errno(env, "listxattr", errno, NULL);
    }
    napi_value out;
    void *dst;
    napi_create_buffer_copy(env, (size_t)n, buf, &dst, &out);
    free(buf);
    return out;
  }
}

/* fsatRename(olddirfd, oldpath, newdirfd, newpath, flags) via renameat2. */
static napi_value fsat_rename(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t olddir, newdir, flags;
  char *oldpath, *newpath;
  if (hood_arg_int32(env, argv[0], &olddir, "olddirfd") || hood_arg_int32(env, argv[2], &newdir, "newdirfd") ||
      hood_arg_int32(env, argv[4], &flags, "flags") || arg_path(env, argv[1], &oldpath, "oldpath"))
    return NULL;
  if (arg_path(env, argv[3], &newpath, "newpath")) {
    free(oldpath);
    return NULL;
  }
  int r = (int)syscall(SYS_renameat2, olddir, oldpath, newdir, newpath, (unsigned)flags);
  napi_value out = r < 0 ? hood_throw_errno(env, "renameat2", errno, newpath) : hood_undefined(env);
  free(oldpath);
  free(newpath);
  return out;
}

/* fsatUnlink(dirfd, path, flags); flags AT_REMOVEDIR for a directory. */
static napi_value fsat_unlink(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t dirfd, flags;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &flags, "flags") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  int r = unlinkat(dirfd, path, flags);
  napi_value out = r < 0 ? hood_throw_errno(env, "unlinkat", errno, path) : hood_undefined(env);
  free(path);
  return out;
}

/* fsatStat(dirfd, path, flags) -> Float64Array [mode, uid, gid, size, nlink, ino, rdevMajor,
 * rdevMinor, atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, devMajor, devMinor],
 * or null when the path does not exist (ENOENT). "" with AT_EMPTY_PATH stats dirfd. */
static napi_value fsat_stat(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t dirfd, flags;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &flags, "flags") ||
      arg_path(env, argv[1], &path, "path"))
    return NULL;
  struct stat st;
  int r = fstatat(dirfd, path, &st, flags);
  if (r < 0) {
    napi_value out;
    if (errno == ENOENT) napi_get_null(env, &out);
    else out = hood_throw_errno(env, "fstatat", errno, path);
    free(path);
    return out;
  }
  free(path);
  napi_value ab, arr;
  double *d;
  napi_create_arraybuffer(env, 16 * sizeof(double), (void **)&d, &ab);
  d[0] = st.st_mode;
  d[1] = st.st_uid;
  d[2] = st.st_gid;
  d[3] = (double)st.st_size;
  d[4] = (double)st.st_nlink;
  d[5] = (double)st.st_ino;
  d[6] = major(st.st_rdev);
  d[7] = minor(st.st_rdev);
  d[8] = (double)st.st_atim.tv_sec;
  d[9] = (double)st.st_atim.tv_nsec;
  d[10] = (double)st.st_mtim.tv_sec;
  d[11] = (double)st.st_mtim.tv_nsec;
  d[12] = (double)st.st_ctim.tv_sec;
  d[13] = (double)st.st_ctim.tv_nsec;
  d[14] = major(st.st_dev);
  d[15] = minor(st.st_dev);
  napi_create_typedarray(env, napi_float64_array, 16, ab, 0, &arr);
  return arr;
}

/* fsatReadlink(dirfd, path) -> Buffer; "" reads the symlink an O_PATH dirfd refers to. */
static napi_value fsat_readlink(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t dirfd;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || arg_path(env, argv[1], &path, "path")) return NULL;
  char buf[PATH_MAX + 1];
  ssize_t n = readlinkat(dirfd, path, buf, sizeof buf);
  if (n < 0) {
    napi_value r = hood_throw_errno(env, "readlinkat", errno, path);
    free(path);
    return r;
  }
  free(path);
  napi_value out;
  void *dst;
  napi_create_buffer_copy(env, (size_t)n, buf, &dst, &out);
  return out;
}

/* fsatReaddir(fd) -> Array of [name: Buffer, d_type], "." and ".." left out. Reads the whole
 * directory with getdents64 from the fd's current position. */
static napi_value fsat_readdir(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t idx = 0;
  char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return hood_throw_errno(env, "getdents64", errno, NULL);
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      const char *nm = d->d_name;
      if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) continue;
      napi_value pair, name, type;
      void *dst;
      napi_create_buffer_copy(env, strlen(nm), nm, &dst, &name);
      napi_create_int32(env, d->d_type, &type);
      napi_create_array_with_length(env, 2, &pair);
      napi_set_element(env, pair, 0, name);
      napi_set_element(env, pair, 1, type);
      napi_set_element(env, arr, idx++, pair);
    }
  }
  return arr;
}

/* The write queue: file data and each file's final metadata, written by one background thread
 * in the order they were queued, so that extraction's JS thread can read, parse and checksum
 * the next entries and create the next files meanwhile (on two cores, tar -x's work is split
 * in two). The same queue can hash a stream with SHA-256 (OpenSSL's, which node exports to
 * addons), so that a layer's digest is computed beside the extraction, not in its way.
 *
 * Records are copied into a ring allocated once (no malloc, no page faults per record); data of
 * 64 KiB or more is not copied: the queue holds a reference to the caller's buffer until the
 * record has run (the caller must not change it meanwhile; extraction's buffers come from
 * the tar reader's source, which never reuses them). The ring's size bounds the bytes in
 * flight, counts bound the references and the files (open fds) in flight, and a full queue
 * blocks the caller. The thread is
 * woken once per batch (256 KiB or 64 records), not per record: a futex wake per small file
 * cost more than the file's write. It only uses fds the caller created and handed over: it
 * never resolves a path. The first error is kept and thrown by every later call (sticky);
 * after it the thread only closes fds. */
#include <openssl/evp.h>
#include <pthread.h>

enum { WQ_PAD = 0, WQ_WRITE = 1, WQ_FINISH = 2, WQ_HASH = 3, WQ_CREATE = 4, WQ_FILE = 5, WQ_HOLD = 6 };
/* The fd of WRITE and FINISH records for "the file the last CREATE made". */
#define WQ_CURRENT (-2)
/* FINISH (and FILE) flags: WQF_META is fchmod then utimensat, WQF_TIMES utimensat alone (the
 * file was created with its final mode). WQF_REF on WRITE and HASH: the data stays in the
 * caller's buffer (held by a reference until the record has run) instead of being copied into
 * the ring; on FILE, the data stays in a buffer held by an earlier hood_wq_hold until the HOLD
 * record queued after it has run, and the payload ends with its address and length. */
enum { WQF_CHOWN = 1, WQF_TRUNCATE = 2, WQF_META = 4, WQF_KEEP_OPEN = 8, WQF_REF = 16, WQF_TIMES = 32 };

/* A record in the ring: this header, then `len` bytes (data, or a path for messages), the
 * whole padded to 16 bytes. A PAD record (or less room than a header) sends the reader back
 * to the start of the ring. A FILE record is a whole small file in one: its payload is the
 * name (name_len bytes with the NUL), the path for messages (off bytes), then the data; it
 * runs openat(fd, name), write, the FINISH steps of `flags` and close. A HOLD record does
 * nothing: when it has run, the buffer the records before it used is released. */
struct wq_rec {
  uint32_t type;
  int32_t fd;
  uint32_t flags;
  uint32_t len;
  uint32_t uid, gid, mode, name_len;
  int64_t off; /* WRITE: file offset, -1 for the current position; FINISH: truncate size;
                * FILE: length of the path */
  uint64_t ref_data; /* WQF_REF: the address of the data; FILE: open flags << 32 | create mode */
  struct timespec times[2];
};

#define WQ_HDR sizeof(struct wq_rec)
#define WQ_ALIGN(n) (((n) + 15) & ~(size_t)15)
#define WQ_WAKE_BYTES ((size_t)256 << 10)
#define WQ_WAKE_RECORDS 64
/* Pieces at least this large are referenced, not copied (a copy of a small one is cheaper
 * than a reference), and at most this many references are held at once. */
#define WQ_REF_MIN ((size_t)64 << 10)
#define WQ_REFS 16

/* True for a record that releases a reference when it has run: a WRITE or HASH whose data
 * stayed in the caller's buffer, or a HOLD. */
static int wq_is_ref(const struct wq_rec *r) {
  return ((r->type == WQ_WRITE || r->type == WQ_HASH) && (r->flags & WQF_REF)) || r->type == WQ_HOLD;
}

/* The bytes a record takes in the ring. */
static size_t wq_size(const struct wq_rec *r) {
  return WQ_ALIGN(WQ_HDR + (wq_is_ref(r) ? 0 : r->len));
}

struct wq {
  pthread_mutex_t mu;
  pthread_cond_t work, space, idle;
  pthread_t thread;
  char *ring;
  size_t cap;
  size_t head; /* where the next record goes; only the caller's thread moves it */
  size_t tail; /* the next record to run; only the queue's thread moves it */
  size_t used; /* bytes from tail to head, pads included */
  size_t pending_bytes;
  int pending_records; /* queued since the thread was last woken */
  int files, max_files;
  int consumer_waiting, producer_waiting, busy, stop, closed, started;
  /* the first error: set by the thread, published (thrown) once its path is known */
  int err, err_fd, published;
  const char *err_call;
  char err_path[512];
  EVP_MD_CTX *sha; /* the stream hashed by HASH records; created by the first one */
  int cur_fd;      /* the file the last CREATE made, -1 when it failed */
  /* References to the callers' buffers of WQF_REF records, in queue order: made and deleted
   * on the caller's thread (Node-API), counted as run by the queue's thread. */
  napi_ref refs[WQ_REFS];
  uint64_t refs_made, refs_deleted, refs_run;
};

static void wq_fail(struct wq *q, int err, const char *call, int fd) {
  pthread_mutex_lock(&q->mu);
  if (!q->err) {
    q->err = err;
    q->err_call = call;
    q->err_fd = fd;
  }
  pthread_mutex_unlock(&q->mu);
}

static int wq_write_all(int fd, const char *p, size_t len, int64_t off) {
  while (len > 0) {
    ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
    if (off >= 0) off += n;
  }
  return 0;
}

/* Publishes the path of the file whose record failed (the first error only). */
static void wq_publish(struct wq *q, const char *path, size_t len) {
  size_t n = len < sizeof q->err_path - 1 ? len : sizeof q->err_path - 1;
  pthread_mutex_lock(&q->mu);
  memcpy(q->err_path, path, n);
  q->err_path[n] = 0;
  q->published = 1;
  pthread_mutex_unlock(&q->mu);
}

/* The steps after a file's data, as `flags` says; errors name `err_fd`. */
static void wq_finish_steps(struct wq *q, int fd, const struct wq_rec *r, int err_fd) {
  if ((r->flags & WQF_TRUNCATE) && ftruncate(fd, (off_t)r->off) < 0) wq_fail(q, errno, "ftruncate", err_fd);
  else if ((r->flags & WQF_CHOWN) && fchown(fd, r->uid, r->gid) < 0) wq_fail(q, errno, "fchown", err_fd);
  else if ((r->flags & WQF_META) && fchmod(fd, (mode_t)r->mode) < 0) wq_fail(q, errno, "fchmod", err_fd);
  else if ((r->flags & (WQF_META | WQF_TIMES)) && syscall(SYS_utimensat, fd, NULL, r->times, 0) < 0)
    wq_fail(q, errno, "utimensat", err_fd);
}

/* Runs a FILE record: create, write, finish, close. */
static void wq_run_file(struct wq *q, const struct wq_rec *r, const char *payload) {
  if (q->err) return;
  const char *name = payload;
  const char *path = payload + r->name_len;
  size_t plen = (size_t)r->off;
  const char *data = path + plen;
  size_t dlen = r->len - r->name_len - plen;
  if (r->flags & WQF_REF) {
    uint64_t at, n;
    memcpy(&at, data, 8);
    memcpy(&n, data + 8, 8);
    data = (const char *)(uintptr_t)at;
    dlen = (size_t)n;
  }
  int fd;
  do fd = openat(r->fd, name, (int)(r->ref_data >> 32) | O_CLOEXEC, (mode_t)(uint32_t)r->ref_data);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    wq_fail(q, errno, "openat", WQ_CURRENT);
  } else {
    if (wq_write_all(fd, data, dlen, -1) < 0) wq_fail(q, errno, "write", WQ_CURRENT);
    else wq_finish_steps(q, fd, r, WQ_CURRENT);
    if (close(fd) < 0 && errno != EINTR && !q->err) wq_fail(q, errno, "close", WQ_CURRENT);
  }
  if (q->err && !q->published) wq_publish(q, path, plen);
}

/* Runs one record on the queue's thread. */
static void wq_run(struct wq *q, const struct wq_rec *r) {
  const char *data = wq_is_ref(r) ? (const char *)(uintptr_t)r->ref_data : (const char *)(r + 1);
  int failed = q->err != 0; /* only this thread sets it */
  if (r->type == WQ_FILE) {
    wq_run_file(q, r, data);
    return;
  }
  if (r->type == WQ_HOLD) return;
  if (r->type == WQ_HASH) {
    if (failed) return;
    if (!q->sha) {
      q->sha = EVP_MD_CTX_new();
      if (!q->sha || EVP_DigestInit_ex(q->sha, EVP_sha256(), NULL) != 1) {
        wq_fail(q, ENOMEM, "sha256", -1);
        return;
      }
    }
    if (EVP_DigestUpdate(q->sha, data, r->len) != 1) wq_fail(q, EIO, "sha256", -1);
    return;
  }
  if (r->type == WQ_CREATE) {
    q->cur_fd = -1;
    if (failed) return;
    int fd;
    do fd = openat(r->fd, data, (int)r->flags | O_CLOEXEC, (mode_t)r->mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) wq_fail(q, errno, "openat", WQ_CURRENT);
    else q->cur_fd = fd;
    return;
  }
  int fd = r->fd == WQ_CURRENT ? q->cur_fd : r->fd;
  if (r->type == WQ_WRITE) {
    if (!failed && wq_write_all(fd, data, r->len, r->off) < 0) wq_fail(q, errno, "write", r->fd);
    return;
  }
  if (!failed) wq_finish_steps(q, fd, r, r->fd);
  if (fd >= 0 && !(r->flags & WQF_KEEP_OPEN) && close(fd) < 0 && errno != EINTR && !q->err)
    wq_fail(q, errno, "close", r->fd);
  if (q->err && !q->published && q->err_fd == r->fd) wq_publish(q, data, r->len);
}

static void *wq_main(void *arg) {
  struct wq *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (q->used == 0 && !q->stop) {
      q->consumer_waiting = 1;
      pthread_cond_broadcast(&q->idle);
      pthread_cond_wait(&q->work, &q->mu);
      q->consumer_waiting = 0;
    }
    if (q->used == 0) break;
    /* Everything queued so far is one batch, run without the lock. */
    size_t todo = q->used, tail = q->tail;
    q->pending_bytes = 0;
    q->pending_records = 0;
    q->busy = 1;
    pthread_mutex_unlock(&q->mu);
    /* Space is given back every WQ_WAKE_BYTES, so that a waiting caller goes on early. */
    int finished = 0;
    size_t done = 0, released = 0;
    while (done < todo) {
      const struct wq_rec *r = (const struct wq_rec *)(q->ring + tail);
      if (q->cap - tail < WQ_HDR || r->type == WQ_PAD) {
        done += q->cap - tail;
        tail = 0;
        continue;
      }
      wq_run(q, r);
      if (r->type == WQ_FINISH) finished++;
      int ref = wq_is_ref(r);
      size_t n = wq_size(r);
      done += n;
      tail += n;
      if (ref || (done - released >= WQ_WAKE_BYTES && done < todo)) {
        pthread_mutex_lock(&q->mu);
        q->tail = tail;
        q->used -= done - released;
        q->files -= finished;
        if (ref) q->refs_run++;
        released = done;
        finished = 0;
        if (q->producer_waiting) pthread_cond_signal(&q->space);
        pthread_mutex_unlock(&q->mu);
      }
    }
    pthread_mutex_lock(&q->mu);
    q->tail = tail;
    q->used -= todo - released; /* (a REF record's count was taken above) */
    q->files -= finished;
    q->busy = 0;
    if (q->producer_waiting) pthread_cond_signal(&q->space);
  }
  pthread_cond_broadcast(&q->idle);
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* Wakes the thread for what is queued. Called with the lock held. */
static void wq_kick(struct wq *q) {
  if (q->consumer_waiting && q->used > 0) {
    pthread_cond_signal(&q->work);
    q->consumer_waiting = 0;
  }
}

/* Waits until everything queued is done. Called with the lock held. */
static void wq_wait_idle(struct wq *q) {
  wq_kick(q);
  while (q->used > 0 || q->busy) pthread_cond_wait(&q->idle, &q->mu);
  /* An error whose file never reached a FINISH (the caller gave up) is published without a path. */
  if (q->err && !q->published) q->published = 1;
}

static void wq_shutdown(struct wq *q) {
  if (q->closed) return;
  q->closed = 1;
  if (!q->started) return;
  pthread_mutex_lock(&q->mu);
  q->stop = 1;
  pthread_cond_signal(&q->work);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
}

/* Deletes the references of the records that have run (all of them once the thread is gone).
 * On the caller's thread only. */
static void wq_release_refs(napi_env env, struct wq *q, int all) {
  pthread_mutex_lock(&q->mu);
  uint64_t run = all ? q->refs_made : q->refs_run;
  pthread_mutex_unlock(&q->mu);
  while (q->refs_deleted < run) napi_delete_reference(env, q->refs[q->refs_deleted++ % WQ_REFS]);
}

static void wq_finalize(napi_env env, void *data, void *hint) {
  struct wq *q = data;
  wq_shutdown(q);
  wq_release_refs(env, q, 1);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->work);
  pthread_cond_destroy(&q->space);
  pthread_cond_destroy(&q->idle);
  EVP_MD_CTX_free(q->sha);
  free(q->ring);
  free(q);
}

/* Throws the published error, if any. Called with the lock held; returns -1 after throwing. */
static int wq_throw_if_failed(napi_env env, struct wq *q) {
  if (!q->err || !q->published) return 0;
  int err = q->err;
  const char *call = q->err_call;
  char path[sizeof q->err_path];
  memcpy(path, q->err_path, sizeof path);
  pthread_mutex_unlock(&q->mu);
  hood_throw_errno(env, call, err, path);
  pthread_mutex_lock(&q->mu);
  return -1;
}

static struct wq *wq_arg(napi_env env, napi_value v) {
  struct wq *q = NULL;
  if (napi_get_value_external(env, v, (void **)&q) != napi_ok || !q) {
    hood_throw_type(env, "queue must be a write queue");
    return NULL;
  }
  if (q->closed) {
    hood_throw_type(env, "the write queue is closed");
    return NULL;
  }
  return q;
}

struct wq *hood_wq_arg(napi_env env, napi_value v) { return wq_arg(env, v); }

/* Appends a record with `len` bytes of payload from `payload`, blocking while the ring (or the
 * count of files) is full. */
struct wq_part {
  const void *p;
  size_t n;
};

static napi_value wq_push_parts(napi_env env, struct wq *q, const struct wq_rec *rec, const struct wq_part *parts,
                                int nparts);

static napi_value wq_push(napi_env env, struct wq *q, const struct wq_rec *rec, const void *payload) {
  struct wq_part part = {payload, wq_is_ref(rec) ? 0 : rec->len};
  return wq_push_parts(env, q, rec, &part, 1);
}

/* wq_push with the payload gathered from `parts` (rec->len bytes in all); for a REF record,
 * parts[0].p is the address kept. */
static napi_value wq_push_parts(napi_env env, struct wq *q, const struct wq_rec *rec, const struct wq_part *parts,
                                int nparts) {
  const void *payload = parts[0].p;
  size_t need = wq_size(rec);
  int ref = wq_is_ref(rec);
  /* References of records that ran since the last call (only this thread makes and deletes
   * them, so the counts need no lock to compare). */
  if (q->refs_deleted != q->refs_made) wq_release_refs(env, q, 0);
  /* One lock round per record: the copy (at most ~64 KiB, larger data is referenced) is made
   * under the lock too; the thread takes it only every WQ_WAKE_BYTES. */
  pthread_mutex_lock(&q->mu);
  /* A record that does not fit before the ring's end (also when none is left) goes to the
   * start; the end is wasted. */
  int wrap = q->cap - q->head < need;
  size_t skip = wrap ? q->cap - q->head : 0;
  while (q->cap - q->used < skip + need || (rec->type == WQ_FINISH && q->files >= q->max_files) ||
         (ref && q->refs_made - q->refs_run >= WQ_REFS)) {
    q->producer_waiting = 1;
    wq_kick(q);
    pthread_cond_wait(&q->space, &q->mu);
    q->producer_waiting = 0;
  }
  size_t at = q->head;
  if (wrap) {
    if (skip >= WQ_HDR) ((struct wq_rec *)(q->ring + at))->type = WQ_PAD;
    at = 0;
  }
  memcpy(q->ring + at, rec, WQ_HDR);
  if (ref) ((struct wq_rec *)(q->ring + at))->ref_data = (uint64_t)(uintptr_t)payload;
  else
    for (size_t i = 0, o = at + WQ_HDR; i < (size_t)nparts; o += parts[i].n, i++)
      if (parts[i].n) memcpy(q->ring + o, parts[i].p, parts[i].n);
  if (ref) q->refs_made++;
  q->head = at + need;
  q->used += skip + need;
  if (rec->type == WQ_FINISH) q->files++;
  q->pending_bytes += need;
  q->pending_records++;
  int keep_open = rec->type == WQ_FINISH && (rec->flags & WQF_KEEP_OPEN);
  if (q->pending_bytes >= WQ_WAKE_BYTES || q->pending_records >= WQ_WAKE_RECORDS) wq_kick(q);
  if (keep_open) wq_wait_idle(q);
  wq_throw_if_failed(env, q);
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* wqCreate(ringBytes, maxFiles) -> queue; starts its thread. */
static napi_value wq_create(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t ring_bytes, max_files;
  if (hood_arg_int32(env, argv[0], &ring_bytes, "ringBytes") || hood_arg_int32(env, argv[1], &max_files, "maxFiles"))
    return NULL;
  if (ring_bytes < 64 << 10 || max_files < 1)
    return hood_throw_type(env, "ringBytes must be at least 64 KiB and maxFiles positive");
  struct wq *q = calloc(1, sizeof *q);
  if (!q) return hood_throw_errno(env, "malloc", ENOMEM, NULL);
  q->cap = (size_t)ring_bytes & ~(size_t)15;
  q->ring = malloc(q->cap);
  if (!q->ring) {
    free(q);
    return hood_throw_errno(env, "malloc", ENOMEM, NULL);
  }
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->work, NULL);
  pthread_cond_init(&q->space, NULL);
  pthread_cond_init(&q->idle, NULL);
  q->max_files = max_files;
  q->cur_fd = -1;
  int err = pthread_create(&q->thread, NULL, wq_main, q);
  if (err) {
    wq_finalize(env, q, NULL);
    return hood_throw_errno(env, "pthread_create", err, NULL);
  }
  q->started = 1;
  napi_value ext;
  if (napi_create_external(env, q, wq_finalize, NULL, &ext) != napi_ok) {
    wq_finalize(env, q, NULL);
    return hood_throw_type(env, "cannot create the write queue");
  }
  return ext;
}

/* Queues data as WRITE or HASH records, split so that each fits a quarter of the ring. */
static napi_value wq_push_data(napi_env env, struct wq *q, int type, int fd, int64_t off, napi_value v) {
  void *data;
  size_t len;
  napi_typedarray_type t;
  napi_value ab;
  size_t byte_off;
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &byte_off) != napi_ok ||
      t != napi_uint8_array)
    return hood_throw_type(env, "data must be a Uint8Array");
  size_t piece_max = q->cap / 4 - WQ_HDR;
  for (size_t done = 0; done < len;) {
    size_t n = len - done < piece_max ? len - done : piece_max;
    struct wq_rec r = {.type = (uint32_t)type, .fd = fd, .len = (uint32_t)n};
    r.off = off < 0 ? -1 : off + (int64_t)done;
    if (n >= WQ_REF_MIN) {
      if (hood_wq_hold(env, q, v) < 0) return NULL;
      r.flags = WQF_REF; /* the record itself releases the hold when it has run */
    }
    wq_push(env, q, &r, (const char *)data + done);
    done += n;
    bool pending;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  }
  return NULL;
}

/* wqWrite(queue, fd, data, offset): queues a copy of data for fd, at offset (-1: the current
 * position, in queue order). */
static napi_value wq_write_js(napi_env env, napi_callback_info info) {
  ARGS(4);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  int32_t fd;
  int64_t off;
  if (hood_arg_int32(env, argv[1], &fd, "fd") || hood_arg_int64(env, argv[3], &off, "offset")) return NULL;
  return wq_push_data(env, q, WQ_WRITE, fd, off, argv[2]);
}

/* wqCreate(queue, dirfd, name, flags, mode): queues openat(dirfd, name, flags | O_CLOEXEC,
 * mode); WRITE and FINISH records with fd -2 then mean that file. dirfd must stay open until
 * the queue has run the record (wqDrain). */
static napi_value wq_create_file_js(napi_env env, napi_callback_info info) {
  ARGS(5);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  int32_t dirfd, flags, mode;
  char *name;
  if (hood_arg_int32(env, argv[1], &dirfd, "dirfd") || hood_arg_int32(env, argv[3], &flags, "flags") ||
      hood_arg_int32(env, argv[4], &mode, "mode") || arg_path(env, argv[2], &name, "name"))
    return NULL;
  size_t n = strlen(name) + 1;
  if (n > q->cap / 4 - WQ_HDR) {
    free(name);
    return hood_throw_errno(env, "openat", ENAMETOOLONG, NULL);
  }
  struct wq_rec r = {.type = WQ_CREATE, .fd = dirfd, .flags = (uint32_t)flags, .len = (uint32_t)n};
  r.mode = (uint32_t)mode;
  napi_value out = wq_push(env, q, &r, name);
  free(name);
  return out;
}

/* wqHash(queue, data): queues a copy of data for the queue's SHA-256. */
static napi_value wq_hash_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  return wq_push_data(env, q, WQ_HASH, -1, -1, argv[1]);
}

/* wqFinish(queue, fd, path, flags, uid, gid, mode, atimeSec, atimeNsec, mtimeSec, mtimeNsec,
 * size): after fd's queued data, [ftruncate(size)] [fchown] [fchmod, utimensat] and close
 * (unless KEEP_OPEN: then it waits until the queue is idle, and the caller closes fd). path
 * only names the file in an error. */
static napi_value wq_finish_js(napi_env env, napi_callback_info info) {
  ARGS(12);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  int32_t fd, flags, uid, gid, mode;
  int64_t as, an, ms, mn, size;
  if (hood_arg_int32(env, argv[1], &fd, "fd") || hood_arg_int32(env, argv[3], &flags, "flags") ||
      hood_arg_int32(env, argv[4], &uid, "uid") || hood_arg_int32(env, argv[5], &gid, "gid") ||
      hood_arg_int32(env, argv[6], &mode, "mode") || hood_arg_int64(env, argv[7], &as, "atimeSec") ||
      hood_arg_int64(env, argv[8], &an, "atimeNsec") || hood_arg_int64(env, argv[9], &ms, "mtimeSec") ||
      hood_arg_int64(env, argv[10], &mn, "mtimeNsec") || hood_arg_int64(env, argv[11], &size, "size"))
    return NULL;
  void *path = NULL;
  size_t plen = 0;
  bool is_typed = false;
  napi_is_typedarray(env, argv[2], &is_typed);
  if (is_typed) {
    napi_typedarray_type t;
    napi_value ab;
    size_t byte_off;
    napi_get_typedarray_info(env, argv[2], &t, &plen, &path, &ab, &byte_off);
  }
  if (plen > sizeof q->err_path - 1) plen = sizeof q->err_path - 1; /* enough to name the file */
  const uint32_t known = WQF_CHOWN | WQF_TRUNCATE | WQF_META | WQF_KEEP_OPEN | WQF_TIMES;
  struct wq_rec r = {.type = WQ_FINISH, .fd = fd, .flags = (uint32_t)flags & known, .len = (uint32_t)plen};
  r.uid = (uint32_t)uid;
  r.gid = (uint32_t)gid;
  r.mode = (uint32_t)mode;
  r.off = size;
  r.times[0] = (struct timespec){.tv_sec = as, .tv_nsec = an};
  r.times[1] = (struct timespec){.tv_sec = ms, .tv_nsec = mn};
  return wq_push(env, q, &r, path);
}

/* The bytes of a Uint8Array argument; 0, or -1 with a TypeError pending. */
static int arg_bytes(napi_env env, napi_value v, const char **data, size_t *len, const char *what) {
  bool is_typed = false;
  napi_typedarray_type t;
  napi_value ab;
  size_t byte_off;
  void *p = NULL;
  napi_is_typedarray(env, v, &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, v, &t, len, &p, &ab, &byte_off) != napi_ok || t != napi_uint8_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", what);
    hood_throw_type(env, msg);
    return -1;
  }
  *data = p ? p : "";
  return 0;
}

/* wqFile(queue, dirfd, name, openFlags, createMode, data, path, flags, uid, gid, mode,
 * atimeSec, atimeNsec, mtimeSec, mtimeNsec): a whole small file as one record, copied into
 * the ring: openat(dirfd, name, openFlags | O_CLOEXEC, createMode), write data, the FINISH
 * steps of flags (TRUNCATE and KEEP_OPEN excepted), close. dirfd must stay open until the
 * queue has run it (wqDrain). path only names the file in an error. */
static napi_value wq_file_js(napi_env env, napi_callback_info info) {
  ARGS(15);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  int32_t dirfd, oflags, cmode, flags, uid, gid, mode;
  int64_t as, an, ms, mn;
  const char *name, *data, *path;
  size_t nlen, dlen, plen;
  if (hood_arg_int32(env, argv[1], &dirfd, "dirfd") || arg_bytes(env, argv[2], &name, &nlen, "name") ||
      hood_arg_int32(env, argv[3], &oflags, "openFlags") || hood_arg_int32(env, argv[4], &cmode, "createMode") ||
      arg_bytes(env, argv[5], &data, &dlen, "data") || arg_bytes(env, argv[6], &path, &plen, "path") ||
      hood_arg_int32(env, argv[7], &flags, "flags") || hood_arg_int32(env, argv[8], &uid, "uid") ||
      hood_arg_int32(env, argv[9], &gid, "gid") || hood_arg_int32(env, argv[10], &mode, "mode") ||
      hood_arg_int64(env, argv[11], &as, "atimeSec") || hood_arg_int64(env, argv[12], &an, "atimeNsec") ||
      hood_arg_int64(env, argv[13], &ms, "mtimeSec") || hood_arg_int64(env, argv[14], &mn, "mtimeNsec"))
    return NULL;
  struct hood_wq_file f = {.dirfd = dirfd, .name = name, .nlen = nlen, .open_flags = oflags, .create_mode = cmode,
                           .data = data, .dlen = dlen, .path = path, .plen = plen, .flags = (uint32_t)flags,
                           .uid = (uint32_t)uid, .gid = (uint32_t)gid, .mode = (uint32_t)mode};
  f.times[0] = (struct timespec){.tv_sec = as, .tv_nsec = an};
  f.times[1] = (struct timespec){.tv_sec = ms, .tv_nsec = mn};
  hood_wq_file(env, q, &f);
  return NULL;
}

int hood_wq_file(napi_env env, struct wq *q, const struct hood_wq_file *f) {
  if (memchr(f->name, 0, f->nlen)) {
    hood_throw_type(env, "name must not contain a NUL byte");
    return -1;
  }
  size_t plen = f->plen;
  if (plen > sizeof q->err_path - 1) plen = sizeof q->err_path - 1; /* enough to name the file */
  uint64_t where[2] = {(uint64_t)(uintptr_t)f->data, (uint64_t)f->dlen};
  size_t dlen = f->held ? sizeof where : f->dlen;
  if (f->nlen + 1 + plen + dlen > q->cap / 4 - WQ_HDR) {
    hood_throw_type(env, "wqFile: the file is too large for the ring");
    return -1;
  }
  const uint32_t known = WQF_CHOWN | WQF_META | WQF_TIMES;
  struct wq_rec r = {.type = WQ_FILE, .fd = f->dirfd, .flags = (f->flags & known) | (f->held ? WQF_REF : 0),
                     .len = (uint32_t)(f->nlen + 1 + plen + dlen)};
  r.uid = f->uid;
  r.gid = f->gid;
  r.mode = f->mode;
  r.name_len = (uint32_t)f->nlen + 1;
  r.off = (int64_t)plen;
  r.ref_data = (uint64_t)(uint32_t)f->open_flags << 32 | (uint32_t)f->create_mode;
  r.times[0] = f->times[0];
  r.times[1] = f->times[1];
  const void *data = f->held ? (const void *)where : f->data;
  struct wq_part parts[4] = {{f->name, f->nlen}, {"", 1}, {f->path, plen}, {data, dlen}};
  wq_push_parts(env, q, &r, parts, 4);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending ? -1 : 0;
}

int hood_wq_hold(napi_env env, struct wq *q, napi_value buffer) {
  /* Waits until fewer than WQ_REFS are held; then the next slot is free (its earlier holder
   * has run and is deleted here). */
  pthread_mutex_lock(&q->mu);
  while (q->refs_made - q->refs_run >= WQ_REFS) {
    q->producer_waiting = 1;
    wq_kick(q);
    pthread_cond_wait(&q->space, &q->mu);
    q->producer_waiting = 0;
  }
  pthread_mutex_unlock(&q->mu);
  wq_release_refs(env, q, 0);
  if (napi_create_reference(env, buffer, 1, &q->refs[q->refs_made % WQ_REFS]) != napi_ok) {
    hood_throw_type(env, "cannot hold the data");
    return -1;
  }
  return 0;
}

void hood_wq_release(napi_env env, struct wq *q) {
  /* (No other reference is taken between the hold and this record: its slot is the next.) */
  struct wq_rec r = {.type = WQ_HOLD};
  wq_push(env, q, &r, NULL);
}

int hood_wq_data_finish(napi_env env, struct wq *q, int fd, const struct hood_wq_file *f) {
  bool pending = false;
  size_t piece_max = q->cap / 4 - WQ_HDR;
  for (size_t done = 0; done < f->dlen;) {
    size_t n = f->dlen - done < piece_max ? f->dlen - done : piece_max;
    struct wq_rec r = {.type = WQ_WRITE, .fd = fd, .len = (uint32_t)n, .off = -1};
    wq_push(env, q, &r, f->data + done);
    done += n;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return -1;
  }
  size_t plen = f->plen < sizeof q->err_path - 1 ? f->plen : sizeof q->err_path - 1;
  const uint32_t known = WQF_CHOWN | WQF_META | WQF_TIMES;
  struct wq_rec r = {.type = WQ_FINISH, .fd = fd, .flags = f->flags & known, .len = (uint32_t)plen};
  r.uid = f->uid;
  r.gid = f->gid;
  r.mode = f->mode;
  r.times[0] = f->times[0];
  r.times[1] = f->times[1];
  wq_push(env, q, &r, f->path);
  napi_is_exception_pending(env, &pending);
  return pending ? -1 : 0;
}

/* wqDigest(queue) -> Buffer: waits for the queued data, returns the SHA-256 of everything
 * given to wqHash so far and starts over. */
static napi_value wq_digest_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  pthread_mutex_lock(&q->mu);
  wq_wait_idle(q);
  if (wq_throw_if_failed(env, q)) {
    pthread_mutex_unlock(&q->mu);
    return NULL;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  int ok;
  if (!q->sha) {
    ok = EVP_Digest("", 0, md, &n, EVP_sha256(), NULL); /* nothing was hashed */
  } else {
    ok = EVP_DigestFinal_ex(q->sha, md, &n);
    EVP_MD_CTX_free(q->sha);
    q->sha = NULL;
  }
  pthread_mutex_unlock(&q->mu);
  if (ok != 1) return hood_throw_errno(env, "sha256", EIO, NULL);
  napi_value out;
  void *dst;
  napi_create_buffer_copy(env, n, md, &dst, &out);
  return out;
}

/* wqDrain(queue): waits until everything queued is done; throws the first error. */
static napi_value wq_drain_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  pthread_mutex_lock(&q->mu);
  wq_wait_idle(q);
  wq_throw_if_failed(env, q);
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* wqBacklog(queue) -> the bytes queued and not yet run. */
static napi_value wq_backlog_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct wq *q = wq_arg(env, argv[0]);
  if (!q) return NULL;
  pthread_mutex_lock(&q->mu);
  double used = (double)q->used;
  pthread_mutex_unlock(&q->mu);
  napi_value v;
  napi_create_double(env, used, &v);
  return v;
}

/* wqClose(queue): finishes what is queued (closing every fd handed over), stops the thread.
 * Never throws for a write error: call wqDrain first to see it. */
static napi_value wq_close_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct wq *q = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&q) != napi_ok || !q)
    return hood_throw_type(env, "queue must be a write queue");
  wq_shutdown(q);
  wq_release_refs(env, q, 1);
  return NULL;
}

void hood_register_fsat(napi_env env, napi_value exports) {
  hood_export(env, exports, "fsatOpen", fsat_open);
  hood_export(env, exports, "fsatMkdir", fsat_mkdir);
  hood_export(env, exports, "fsatMknod", fsat_mknod);
  hood_export(env, exports, "fsatSymlink", fsat_symlink);
  hood_export(env, exports, "fsatLink", fsat_link);
  hood_export(env, exports, "fsatChown", fsat_chown);
  hood_export(env, exports, "fsatUtimens", fsat_utimens);
  hood_export(env, exports, "fsatSetxattr", fsat_setxattr);
  hood_export(env, exports, "fsatGetxattr", fsat_getxattr);
  hood_export(env, exports, "fsatListxattr", fsat_listxattr);
  hood_export(env, exports, "fsatRename", fsat_rename);
  hood_export(env, exports, "fsatUnlink", fsat_unlink);
  hood_export(env, exports, "fsatStat", fsat_stat);
  hood_export(env, exports, "fsatReadlink", fsat_readlink);
  hood_export(env, exports, "fsatReaddir", fsat_readdir);
  hood_export(env, exports, "wqCreate", wq_create);
  hood_export(env, exports, "wqCreateFile", wq_create_file_js);
  hood_export(env, exports, "wqWrite", wq_write_js);
  hood_export(env, exports, "wqFinish", wq_finish_js);
  hood_export(env, exports, "wqFile", wq_file_js);
  hood_export(env, exports, "wqHash", wq_hash_js);
  hood_export(env, exports, "wqDigest", wq_digest_js);
  hood_export(env, exports, "wqDrain", wq_drain_js);
  hood_export(env, exports, "wqBacklog", wq_backlog_js);
  hood_export(env, exports, "wqClose", wq_close_js);
}
