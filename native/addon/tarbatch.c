/* Extraction's batch of plain files (src/archive/extract-batch.ts): the JS thread spent ~20 us
 * per small file on parsing, recording and queueing. For a run of consecutive plain entries
 * (regular files with no PAX or GNU extension headers, a name Go's JSON writes as it is, header,
 * padding and data all inside the current chunk) two calls do that work:
 *
 * - tarBatchScan parses the run's headers (tarhdr.c's checks) and returns each entry's mode,
 *   uid, gid, size and name, nothing more; it stops at the first entry that is not plain.
 * - The caller (TypeScript) decides every entry: the name is safe, its parent is a directory
 *   this extraction made, how the file is created and finished; it may take fewer entries.
 * - tarBatchCommit parses the same entries again (it keeps no state between calls, so nothing
 *   the caller holds can point it outside the chunk), writes their tar-split lines (the same
 *   bytes src/archive/tar-split/recorder.ts writes), computes their CRC-64 and queues each
 *   file as one write-queue record (wqFile's), with the parent fd and the name offsets the
 *   caller decided.
 *
 * No policy: what is "plain" is a matter of format (what the JavaScript reader would parse to
 * a plain file without PAX records), and every decision about the filesystem is the caller's. */
#include "hood.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

/* tarhdr.c's output indexes. */
enum { S_MODE, S_UID, S_GID, S_SIZE, S_MTIME, S_DEVMAJOR, S_DEVMINOR, S_ATIME, S_CTIME, S_FORMAT, S_COUNT };
enum { FORMAT_USTAR = 1, FORMAT_GNU = 2 };
/* What tarBatchScan writes per entry (Float64Array). */
enum { M_MODE, M_UID, M_GID, M_SIZE, M_NAME_OFF, M_NAME_LEN, M_STRIDE };
/* What tarBatchCommit reads per entry (Int32Array): the parent's fd, where the path for
 * messages and the last component start in the name, the create mode, the FINISH flags, and
 * whether the file is created here, on the calling thread (1), or by the queue's thread (0). */
enum { D_DIRFD, D_PATH_OFF, D_BASE_OFF, D_CREATE_MODE, D_FLAGS, D_HERE, D_STRIDE };
/* A ustar name: prefix (155), '/', name (100). */
#define NAME_BYTES 256

struct entry {
  size_t seg_off, seg_len; /* the previous entry's padding and this header: one segment */
  size_t data_off, size;
  size_t next, next_pad; /* where the next entry starts, and its padding */
  double f[S_COUNT];
  uint8_t name[NAME_BYTES];
  size_t nlen;
};

/* True for a byte Go's JSON encoder writes as it is (the recorder's plainName). */
static int plain_byte(uint8_t c) {
  return c >= 0x20 && c <= 0x7e && c != '"' && c != '&' && c != '<' && c != '>' && c != '\\';
}

/* The entry at c[p], after `pad` bytes of padding: 0 when it is a plain regular file whose
 * header, padding and data all lie inside the chunk, -1 otherwise. */
static int plain_entry(const uint8_t *c, size_t len, size_t p, size_t pad, size_t max_data, struct entry *e) {
  if (p > len || len - p < pad + 512) return -1;
  const uint8_t *b = c + p + pad;
  if (hood_tar_scan_block(b, e->f) != 0) return -1;
  uint8_t type = b[156];
  if (type != '0' && type != 0) return -1;
  if (e->f[S_MODE] < 0 || e->f[S_UID] < 0 || e->f[S_GID] < 0 || e->f[S_MTIME] < 0 || e->f[S_ATIME] < 0) return -1;
  double size = e->f[S_SIZE];
  if (size < 0 || size > (double)max_data) return -1;
  size_t n = (size_t)size;
  if (len - p - pad - 512 < n) return -1;
  size_t nl = 0;
  if (e->f[S_FORMAT] == FORMAT_USTAR && b[345] != 0) {
    for (size_t i = 0; i < 155 && b[345 + i]; i++) e->name[nl++] = b[345 + i];
    e->name[nl++] = '/';
  }
  for (size_t i = 0; i < 100 && b[i]; i++) e->name[nl++] = b[i];
  if (nl == 0) return -1;
  if (type == 0 && e->name[nl - 1] == '/') return -1; /* an old-style directory */
  for (size_t i = 0; i < nl; i++)
    if (!plain_byte(e->name[i])) return -1;
  e->nlen = nl;
  e->seg_off = p;
  e->seg_len = pad + 512;
  e->data_off = p + pad + 512;
  e->size = n;
  e->next = e->data_off + n;
  e->next_pad = (512 - n % 512) % 512;
  return 0;
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  napi_is_typedarray(env, v, &is);
  if (!is || napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok || t != want) return -1;
  return 0;
}

static int arg_size(napi_env env, napi_value v, size_t *out, const char *what) {
  int64_t n;
  if (hood_arg_int64(env, v, &n, what)) return -1;
  if (n < 0) {
    hood_throw_type(env, "negative offset or count");
    return -1;
  }
  *out = (size_t)n;
  return 0;
}

/* tarBatchScan(chunk, pos, pad, maxCount, maxData, meta: Float64Array, names: Uint8Array) -> n:
 * the plain entries from chunk[pos] on (the first one after `pad` bytes of padding), at most
 * maxCount, each with at most maxData bytes of data. Entry i's mode, uid, gid, size and the
 * offset and length of its name in `names` go to meta[i * 6 ...]. */
static napi_value tar_batch_scan_js(napi_env env, napi_callback_info info) {
  ARGS(7);
  const uint8_t *c;
  double *meta;
  uint8_t *names;
  size_t clen, mlen, nlen, pos, pad, max_count, max_data;
  if (typed(env, argv[0], napi_uint8_array, (void **)&c, &clen) ||
      typed(env, argv[5], napi_float64_array, (void **)&meta, &mlen) ||
      typed(env, argv[6], napi_uint8_array, (void **)&names, &nlen))
    return hood_throw_type(env, "tarBatchScan(chunk: Uint8Array, pos, pad, maxCount, maxData, meta: Float64Array, "
                                "names: Uint8Array)");
  if (arg_size(env, argv[1], &pos, "pos") || arg_size(env, argv[2], &pad, "pad") ||
      arg_size(env, argv[3], &max_count, "maxCount") || arg_size(env, argv[4], &max_data, "maxData"))
    return NULL;
  if (max_count > mlen / M_STRIDE) max_count = mlen / M_STRIDE;
  if (max_count > nlen / NAME_BYTES) max_count = nlen / NAME_BYTES;
  size_t n = 0, noff = 0;
  struct entry e;
  while (n < max_count && plain_entry(c, clen, pos, pad, max_data, &e) == 0) {
    double *m = meta + n * M_STRIDE;
    m[M_MODE] = e.f[S_MODE];
    m[M_UID] = e.f[S_UID];
    m[M_GID] = e.f[S_GID];
    m[M_SIZE] = e.f[S_SIZE];
    m[M_NAME_OFF] = (double)noff;
    m[M_NAME_LEN] = (double)e.nlen;
    memcpy(names + noff, e.name, e.nlen);
    noff += e.nlen;
    pos = e.next;
    pad = e.next_pad;
    n++;
  }
  return hood_int(env, (int64_t)n);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/* Two base64 characters per 12 bits: a header's 684 characters in 342 lookups. */
static uint16_t b64_pairs[4096];

static void init_base64(void) {
  for (int i = 0; i < 4096; i++) {
    uint8_t two[2] = {(uint8_t)B64[i >> 6], (uint8_t)B64[i & 63]};
    memcpy(&b64_pairs[i], two, 2);
  }
}

/* Standard base64 with padding (Node's "base64"); returns the bytes written. */
static size_t base64(uint8_t *out, const uint8_t *p, size_t n) {
  uint8_t *o = out;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    memcpy(o, &b64_pairs[v >> 12], 2);
    memcpy(o + 2, &b64_pairs[v & 4095], 2);
    o += 4;
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    *o++ = B64[v >> 18];
    *o++ = B64[(v >> 12) & 63];
    *o++ = '=';
    *o++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    *o++ = B64[v >> 18];
    *o++ = B64[(v >> 12) & 63];
    *o++ = B64[(v >> 6) & 63];
    *o++ = '=';
  }
  return (size_t)(o - out);
}

static size_t put(uint8_t *o, const char *s) {
  size_t n = strlen(s);
  memcpy(o, s, n);
  return n;
}

static size_t put_uint(uint8_t *o, uint64_t v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  for (int i = 0; i < n; i++) o[i] = (uint8_t)tmp[n - 1 - i];
  return (size_t)n;
}

/* The most one entry's two lines take: a segment of up to 1023 bytes, a name of up to 256. */
#define LINES_MAX (64 + (1023 + 2) / 3 * 4 + 24 + 64 + NAME_BYTES + 24 + 12 + 24)

/* tarBatchCommit(queue, chunk, pos, pad, count, maxData, decisions: Int32Array, openFlags,
 * out: Uint8Array | null, state: Float64Array): the first `count` entries tarBatchScan found
 * at the same place (it fails when one is no longer plain). For each: the tar-split lines into
 * out at state[0] (positions from state[1]) unless out is null, and one write-queue record:
 * openat(decisions dirfd, name from its base offset, openFlags, create mode), the data, the
 * FINISH flags' steps with the header's owner, mode & 07777 and times, close. An entry to be
 * created here is opened on this thread (an error is thrown as openat's, naming the path) and
 * only its data and FINISH go to the queue, which closes it. state becomes
 * [used, position, pos, pad]: where the out bytes end, the next position, where the next entry
 * starts in the chunk and its padding. */
static napi_value tar_batch_commit_js(napi_env env, napi_callback_info info) {
  ARGS(10);
  struct wq *q = hood_wq_arg(env, argv[0]);
  if (!q) return NULL;
  const uint8_t *c;
  int32_t *dec;
  double *state;
  uint8_t *out = NULL;
  size_t clen, dlen, slen, olen = 0, pos, pad, count, max_data;
  int32_t open_flags;
  napi_valuetype ot;
  napi_typeof(env, argv[8], &ot);
  if (typed(env, argv[1], napi_uint8_array, (void **)&c, &clen) ||
      typed(env, argv[6], napi_int32_array, (void **)&dec, &dlen) ||
      typed(env, argv[9], napi_float64_array, (void **)&state, &slen) || slen < 4 ||
      (ot != napi_null && typed(env, argv[8], napi_uint8_array, (void **)&out, &olen)))
    return hood_throw_type(env, "tarBatchCommit(queue, chunk: Uint8Array, pos, pad, count, maxData, decisions: "
                                "Int32Array, openFlags, out: Uint8Array | null, state: Float64Array(4))");
  if (arg_size(env, argv[2], &pos, "pos") || arg_size(env, argv[3], &pad, "pad") ||
      arg_size(env, argv[4], &count, "count") || arg_size(env, argv[5], &max_data, "maxData") ||
      hood_arg_int32(env, argv[7], &open_flags, "openFlags"))
    return NULL;
  if (count > dlen / D_STRIDE) return hood_throw_type(env, "tarBatchCommit: fewer decisions than entries");
  if (state[0] < 0 || state[0] > (double)olen || state[1] < 0)
    return hood_throw_type(env, "tarBatchCommit: bad state");
  size_t used = (size_t)state[0];
  uint64_t position = (uint64_t)state[1];
  struct entry e;
  /* The files' data is written from the chunk itself, which the queue holds until they have
   * run (the tar reader's chunks never change). */
  if (hood_wq_hold(env, q, argv[1]) < 0) return NULL;
  for (size_t i = 0; i < count; i++) {
    if (plain_entry(c, clen, pos, pad, max_data, &e) != 0) {
      hood_throw_type(env, "tarBatchCommit: the entries are not the ones scanned");
      break;
    }
    const int32_t *d = dec + i * D_STRIDE;
    if (d[D_PATH_OFF] < 0 || d[D_PATH_OFF] > d[D_BASE_OFF] || (size_t)d[D_BASE_OFF] >= e.nlen) {
      hood_throw_type(env, "tarBatchCommit: name offsets out of range");
      break;
    }
    uint64_t crc = 0;
    if (out) {
      if (olen - used < LINES_MAX) {
        hood_throw_type(env, "tarBatchCommit: no room for the tar-split lines");
        break;
      }
      uint8_t *o = out + used;
      o += put(o, "{\"type\":2,\"payload\":\"");
      o += base64(o, c + e.seg_off, e.seg_len);
      o += put(o, "\",\"position\":");
      o += put_uint(o, position++);
      o += put(o, "}\n{\"type\":1,\"name\":\"");
      memcpy(o, e.name, e.nlen);
      o += e.nlen;
      if (e.size > 0) {
        crc = hood_crc64_update(0, c + e.data_off, e.size);
        uint8_t be[8];
        for (int k = 0; k < 8; k++) be[k] = (uint8_t)(crc >> (56 - 8 * k));
        o += put(o, "\",\"size\":");
        o += put_uint(o, e.size);
        o += put(o, ",\"payload\":\"");
        o += base64(o, be, 8);
        o += put(o, "\",\"position\":");
      } else {
        o += put(o, "\",\"payload\":null,\"position\":");
      }
      o += put_uint(o, position++);
      o += put(o, "}\n");
      used = (size_t)(o - out);
    }
    double at = e.f[S_FORMAT] == FORMAT_GNU && e.f[S_ATIME] != 0 ? e.f[S_ATIME] : e.f[S_MTIME];
    struct hood_wq_file f = {
        .dirfd = d[D_DIRFD],
        .name = (const char *)e.name + d[D_BASE_OFF],
        .nlen = e.nlen - (size_t)d[D_BASE_OFF],
        .open_flags = open_flags,
        .create_mode = d[D_CREATE_MODE],
        .data = (const char *)c + e.data_off,
        .dlen = e.size,
        .path = (const char *)e.name + d[D_PATH_OFF],
        .plen = e.nlen - (size_t)d[D_PATH_OFF],
        .flags = (uint32_t)d[D_FLAGS],
        .uid = (uint32_t)(uint64_t)e.f[S_UID],
        .gid = (uint32_t)(uint64_t)e.f[S_GID],
        .mode = (uint32_t)((uint64_t)e.f[S_MODE] & 07777),
        .held = 1,
    };
    f.times[0] = (struct timespec){.tv_sec = (time_t)at};
    f.times[1] = (struct timespec){.tv_sec = (time_t)e.f[S_MTIME]};
    if (d[D_HERE]) {
      char name[NAME_BYTES + 1];
      memcpy(name, f.name, f.nlen);
      name[f.nlen] = 0;
      int fd;
      do fd = openat(f.dirfd, name, open_flags | O_CLOEXEC, (mode_t)f.create_mode);
      while (fd < 0 && errno == EINTR);
      if (fd < 0) {
        char path[NAME_BYTES + 1];
        memcpy(path, f.path, f.plen);
        path[f.plen] = 0;
        hood_throw_errno(env, "openat", errno, path);
        break;
      }
      if (hood_wq_data_finish(env, q, fd, &f) < 0) break; /* (the queue closes fd) */
    } else if (hood_wq_file(env, q, &f) < 0)
      break; /* the queue's error is pending: the extraction stops */
    pos = e.next;
    pad = e.next_pad;
  }
  hood_wq_release(env, q);
  state[0] = (double)used;
  state[1] = (double)position;
  state[2] = (double)pos;
  state[3] = (double)pad;
  return NULL;
}

void hood_register_tarbatch(napi_env env, napi_value exports) {
  init_base64();
  hood_export(env, exports, "tarBatchScan", tar_batch_scan_js);
  hood_export(env, exports, "tarBatchCommit", tar_batch_commit_js);
}
