/* CRC-64/ISO exactly as Go's hash/crc64 computes it (reflected polynomial 0xD800000000000000,
 * initial value and final xor all ones): tar-split records it for every file, so it runs over
 * every byte of every layer. On x86-64 with PCLMULQDQ the data is folded 128 bytes at a time
 * with carry-less multiplications (~15 GB/s); elsewhere, and for the last few bytes, a
 * slicing-by-8 table is used (~2 GB/s). The folding constants are computed at load time from
 * the polynomial, so there is no table of magic numbers to get wrong. */
#include "hood.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define POLY_REFLECTED 0xD800000000000000ULL
/* x^64 + x^4 + x^3 + x + 1 without its x^64 term, bit d = coefficient of x^d. */
#define POLY_NORMAL 0x1BULL

static uint64_t table[8][256];

static void init_tables(void) {
  for (int i = 0; i < 256; i++) {
    uint64_t c = (uint64_t)i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
    table[0][i] = c;
  }
  for (int i = 0; i < 256; i++) {
    uint64_t c = table[0][i];
    for (int t = 1; t < 8; t++) {
      c = table[0][c & 0xff] ^ (c >> 8);
      table[t][i] = c;
    }
  }
}

/* The inner state (the complement of Go's value) over `len` bytes, eight at a time. */
static uint64_t update_table(uint64_t s, const uint8_t *p, size_t len) {
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    s ^= w;
    s = table[7][s & 0xff] ^ table[6][(s >> 8) & 0xff] ^ table[5][(s >> 16) & 0xff] ^
        table[4][(s >> 24) & 0xff] ^ table[3][(s >> 32) & 0xff] ^ table[2][(s >> 40) & 0xff] ^
        table[1][(s >> 48) & 0xff] ^ table[0][s >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) s = table[0][(s ^ *p++) & 0xff] ^ (s >> 8);
  return s;
}

#if defined(__x86_64__)
/*
 * Folding, in the reflected representation: a 64-bit value has the coefficient of x^(63-i) in
 * bit i, a 128-bit register loaded from 16 message bytes has x^(127-i) in bit i, and the
 * carry-less product of two 64-bit values is (A*B)*x in that 128-bit form. A register X = H*x^64
 * + L (H is the low quadword) that stands `d` bits before the data it is folded into becomes
 * H*(x^(d+63) mod P)*x + L*(x^(d-1) mod P)*x, congruent to X*x^d modulo P. The result of the
 * folding is congruent to the message, so the table CRC of its 16 bytes (from state 0) is the
 * state after the whole message.
 */
static __m128i fold_1024; /* d = 1024: eight registers in flight */
static __m128i fold_128;  /* d = 128: one register into the next */
static int have_clmul;

/* x^n mod P, in the reflected 64-bit representation. */
static uint64_t xpow_mod(unsigned n) {
  uint64_t r = 1; /* normal representation: bit d is x^d */
  for (unsigned i = 0; i < n; i++) r = (r & (1ULL << 63)) ? (r << 1) ^ POLY_NORMAL : r << 1;
  uint64_t out = 0;
  for (int d = 0; d < 64; d++)
    if (r & (1ULL << d)) out |= 1ULL << (63 - d);
  return out;
}

static void init_clmul(void) {
  __builtin_cpu_init();
  have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  fold_1024 = _mm_set_epi64x((long long)xpow_mod(1024 - 1), (long long)xpow_mod(1024 + 63));
  fold_128 = _mm_set_epi64x((long long)xpow_mod(128 - 1), (long long)xpow_mod(128 + 63));
}

__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

__attribute__((target("pclmul,sse4.1"))) static uint64_t update_clmul(uint64_t s, const uint8_t *p, size_t len) {
  const __m128i *v = (const __m128i *)p;
  __m128i x[8];
  for (int i = 0; i < 8; i++) x[i] = _mm_loadu_si128(v + i);
  x[0] = _mm_xor_si128(x[0], _mm_set_epi64x(0, (long long)s));
  v += 8;
  len -= 128;
  while (len >= 128) {
    for (int i = 0; i < 8; i++) x[i] = fold(x[i], fold_1024, _mm_loadu_si128(v + i));
    v += 8;
    len -= 128;
  }
  __m128i acc = x[0];
  for (int i = 1; i < 8; i++) acc = fold(acc, fold_128, x[i]);
  while (len >= 16) {
    acc = fold(acc, fold_128, _mm_loadu_si128(v++));
    len -= 16;
  }
  uint8_t folded[16];
  _mm_storeu_si128((__m128i *)folded, acc);
  s = update_table(0, folded, 16);
  return update_table(s, (const uint8_t *)v, len);
}
#endif

/* Go's crc64.Update(crc, ISO table, p). */
uint64_t hood_crc64_update(uint64_t crc, const uint8_t *p, size_t len) {
  uint64_t s = ~crc;
#if defined(__x86_64__)
  if (have_clmul && len >= 256) return ~update_clmul(s, p, len);
#endif
  return ~update_table(s, p, len);
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (!is_typed) return -1;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, (void **)data, &ab, &off) != napi_ok) return -1;
  if (t != napi_uint8_array) return -1;
  return 0;
}

/* crc64Update(state, data): state is 8 bytes holding Go's CRC value big-endian (all zero to
 * start); it is updated in place with the bytes of data. */
static napi_value crc64_update_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return hood_throw_type(env, "too few arguments");
  uint8_t *state, *data;
  size_t slen, dlen;
  if (bytes_of(env, argv[0], &state, &slen) || slen != 8)
    return hood_throw_type(env, "state must be an 8-byte Uint8Array");
  if (bytes_of(env, argv[1], &data, &dlen)) return hood_throw_type(env, "data must be a Uint8Array");
  uint64_t crc = 0;
  for (int i = 0; i < 8; i++) crc = crc << 8 | state[i];
  crc = hood_crc64_update(crc, data, dlen);
  for (int i = 7; i >= 0; i--) {
    state[i] = (uint8_t)crc;
    crc >>= 8;
  }
  return NULL;
}

void hood_register_crc64(napi_env env, napi_value exports) {
  init_tables();
#if defined(__x86_64__)
  init_clmul();
#endif
  hood_export(env, exports, "crc64Update", crc64_update_js);
}
