/* Byte crunching for the tar reader (src/archive/tar-reader.ts): one 512-byte header block's
 * checksum and number fields, parsed as tar-format.ts parses them, in one call instead of a
 * JavaScript loop over the block and one call per field. No policy: anything unusual (a bad
 * checksum, a number that is not clean octal or base-256, a value past 2^53) is answered
 * with "not simple", and the reader takes its JavaScript path, which explains the problem. */
#include "hood.h"

#include <stdint.h>
#include <string.h>

#define MAX_SAFE 9007199254740991.0 /* 2^53 - 1, Number.MAX_SAFE_INTEGER */

/* Field offsets and lengths (tar-format.ts's F). */
enum { F_MODE = 100, F_UID = 108, F_GID = 116, F_SIZE = 124, F_MTIME = 136, F_CHKSUM = 148 };
enum { F_DEVMAJOR = 329, F_DEVMINOR = 337, F_ATIME = 345, F_CTIME = 357 };

/* What tarHeaderScan writes into its Float64Array. */
enum { O_MODE, O_UID, O_GID, O_SIZE, O_MTIME, O_DEVMAJOR, O_DEVMINOR, O_ATIME, O_CTIME, O_FORMAT, O_COUNT };
enum { FORMAT_V7 = 0, FORMAT_USTAR = 1, FORMAT_GNU = 2 };

/* parseNumber: octal text (leading spaces/NULs, digits, then only spaces/NULs) or base-256.
 * Returns 0 and the value, or -1 for anything parseNumber would throw for. */
static int parse_number(const uint8_t *b, int len, double *out) {
  if (b[0] & 0x80) {
    int negative = b[0] == 0xff;
    double v = 0;
    for (int i = 0; i < len; i++) {
      unsigned c = b[i];
      if (i == 0) c &= 0x7f;
      if (negative) c ^= i == 0 ? 0x7f : 0xff;
      v = v * 256 + c;
      if (v > MAX_SAFE) return -1;
    }
    *out = negative ? -(v + 1) : v;
    return 0;
  }
  int i = 0;
  while (i < len && (b[i] == 0x20 || b[i] == 0)) i++;
  double v = 0;
  for (; i < len; i++) {
    unsigned c = b[i];
    if (c == 0x20 || c == 0) break;
    if (c < 0x30 || c > 0x37) return -1;
    v = v * 8 + (c - 0x30);
  }
  for (; i < len; i++)
    if (b[i] != 0x20 && b[i] != 0) return -1;
  if (v > MAX_SAFE) return -1; /* octal of 12 digits always fits; kept for safety */
  *out = v;
  return 0;
}

/* One block: 1 all zeros, 0 checksum matches and every number parsed (out as below), -1
 * anything else. Shared with the batch scanner (tarbatch.c). */
int hood_tar_scan_block(const uint8_t *b, double *out) {
  /* The checksum: the field counts as eight spaces; signed differs by 256 per byte > 127.
   * Eight bytes at a time: their sum in four 16-bit lanes (at most 64 * 510 per lane), the
   * bytes over 127 counted by their top bits (summed by a multiplication: no popcount
   * instruction is assumed); then the checksum field's own bytes out. */
  uint64_t lanes = 0, any = 0;
  uint32_t high = 0;
  for (int i = 0; i < 512; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    any |= w;
    lanes += (w & 0x00ff00ff00ff00ffULL) + ((w >> 8) & 0x00ff00ff00ff00ffULL);
    high += (uint32_t)((((w & 0x8080808080808080ULL) >> 7) * 0x0101010101010101ULL) >> 56);
  }
  if (!any) return 1;
  uint32_t sum = (uint32_t)((lanes & 0xffff) + ((lanes >> 16) & 0xffff) + ((lanes >> 32) & 0xffff) + (lanes >> 48));
  for (int i = F_CHKSUM; i < F_CHKSUM + 8; i++) {
    sum -= b[i];
    high -= b[i] >> 7;
  }
  sum += 8 * 0x20;
  double recorded;
  if (parse_number(b + F_CHKSUM, 8, &recorded) < 0) return -1;
  if (recorded != (double)sum && recorded != (double)sum - 256.0 * high) return -1;
  int format = FORMAT_V7;
  if (!memcmp(b + 257, "ustar\0" "00", 8)) format = FORMAT_USTAR;
  else if (!memcmp(b + 257, "ustar  \0", 8)) format = FORMAT_GNU;
  memset(out, 0, O_COUNT * sizeof *out);
  if (parse_number(b + F_MODE, 8, &out[O_MODE]) || parse_number(b + F_UID, 8, &out[O_UID]) ||
      parse_number(b + F_GID, 8, &out[O_GID]) || parse_number(b + F_SIZE, 12, &out[O_SIZE]) ||
      parse_number(b + F_MTIME, 12, &out[O_MTIME]))
    return -1;
  if (format != FORMAT_V7 &&
      (parse_number(b + F_DEVMAJOR, 8, &out[O_DEVMAJOR]) || parse_number(b + F_DEVMINOR, 8, &out[O_DEVMINOR])))
    return -1;
  if (format == FORMAT_GNU &&
      (parse_number(b + F_ATIME, 12, &out[O_ATIME]) || parse_number(b + F_CTIME, 12, &out[O_CTIME])))
    return -1;
  out[O_FORMAT] = format;
  return 0;
}

/* tarHeaderScan(block, out) -> 1: the block is all zeros; 0: the checksum matches and every
 * number field parsed (out gets mode, uid, gid, size, mtime, devmajor, devminor, atime,
 * ctime, format: 0 v7, 1 ustar, 2 gnu; fields the format has not are 0); -1: take the
 * JavaScript path. block must be a Uint8Array of at least 512 bytes, out a Float64Array of
 * at least 10. */
static napi_value tar_header_scan_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  napi_typedarray_type t1, t2;
  size_t n1, n2, off;
  void *p1 = NULL, *p2 = NULL;
  napi_value ab;
  bool is1 = false, is2 = false;
  napi_is_typedarray(env, argv[0], &is1);
  napi_is_typedarray(env, argv[1], &is2);
  if (!is1 || !is2 || napi_get_typedarray_info(env, argv[0], &t1, &n1, &p1, &ab, &off) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &t2, &n2, &p2, &ab, &off) != napi_ok || t1 != napi_uint8_array ||
      t2 != napi_float64_array || n1 < 512 || n2 < O_COUNT)
    return hood_throw_type(env, "tarHeaderScan(block: Uint8Array(512), out: Float64Array(10))");
  napi_value v;
  napi_create_int32(env, hood_tar_scan_block(p1, p2), &v);
  return v;
}

void hood_register_tarhdr(napi_env env, napi_value exports) {
  hood_export(env, exports, "tarHeaderScan", tar_header_scan_js);
}
