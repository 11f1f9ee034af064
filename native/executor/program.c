/* Decoding of the setup program. Everything is bounds-checked before the first step runs,
 * so a malformed program does nothing at all. */
#include "program.h"

#include <stdlib.h>
#include <string.h>

/* Field signatures per op, in the order of OPS in src/setup/program.ts. 'b' is an 's' on
 * the wire whose bytes may hold NULs (a filter, file data); every other string must not,
 * so that it can be used as a C string without being cut short. */
static const char *const SIGNATURES[OP_COUNT] = {
    [OP_SETNS] = "ii", [OP_UNSHARE] = "i", [OP_SYNC] = "i", [OP_REPORT] = "i",
    [OP_FORK] = "i", [OP_SETHOSTNAME] = "s", [OP_SETDOMAINNAME] = "s", [OP_OPEN_ROOT] = "s",
    [OP_MKDIR_IN_ROOT] = "si", [OP_MKFILE_IN_ROOT] = "si", [OP_MOUNT] = "sssisi",
    [OP_MKNOD_IN_ROOT] = "siiii", [OP_SYMLINK_IN_ROOT] = "ss", [OP_PIVOT_ROOT] = "",
    [OP_MOVE_ROOT] = "", [OP_MASK_PATH] = "s", [OP_READONLY_PATH] = "s",
    [OP_WRITE_FILE] = "sbi", [OP_SETRLIMIT] = "iii", [OP_SETGROUPS] = "I",
    [OP_SETRESGID] = "i", [OP_SETRESUID] = "i", [OP_PRCTL] = "iiiii", [OP_CAPSET] = "iii",
    [OP_UMASK] = "i", [OP_CHDIR] = "s", [OP_SECCOMP] = "ibi", [OP_CONSOLE] = "iii",
    [OP_CLOSE_FDS] = "iI", [OP_WAIT_FOR_START] = "i", [OP_FIND_EXEC] = "l",
    [OP_EXEC] = "lll", [OP_CLOSE_FD] = "i", [OP_PRIVATIZE_MOUNT] = "s",
    [OP_MOUNT_SETATTR] = "siiii", [OP_IDMAP_TREE] = "siissi", [OP_MOVE_MOUNT] = "isi",
    [OP_WRITE_PROCFS] = "sb", [OP_WRITE_FD] = "ib",
};

struct cursor {
  const unsigned char *p, *end;
};

static int take_u32(struct cursor *c, uint32_t *v) {
  if (c->end - c->p < 4) return -1;
  memcpy(v, c->p, 4);
  c->p += 4;
  return 0;
}

static int take_i64(struct cursor *c, int64_t *v) {
  if (c->end - c->p < 8) return -1;
  memcpy(v, c->p, 8);
  c->p += 8;
  return 0;
}

/* u32 length, the bytes, a NUL, zero padding: length + padding is a multiple of 8. */
static int take_bytes(struct cursor *c, const char **s, uint32_t *len, int binary) {
  if (take_u32(c, len)) return -1;
  uint64_t padded = ((uint64_t)*len + 8) & ~(uint64_t)7;
  if ((uint64_t)(c->end - c->p) < padded) return -1;
  if (c->p[*len] != 0 || (!binary && memchr(c->p, 0, *len))) return -1;
  *s = (const char *)c->p;
  c->p += padded;
  return 0;
}

static int take_string(struct cursor *c, const char **s, uint32_t *len) {
  return take_bytes(c, s, len, 0);
}

static int take_field(struct cursor *c, char kind, struct arg *a) {
  const char *s;
  uint32_t n;
  switch (kind) {
  case 'i':
    return take_i64(c, &a->i);
  case 's':
    return take_string(c, &a->s, &a->len);
  case 'b':
    return take_bytes(c, &a->s, &a->len, 1);
  case 'I':
    if (take_u32(c, &a->len) || (uint64_t)(c->end - c->p) < (uint64_t)a->len * 8) return -1;
    a->items = c->p;
    c->p += (size_t)a->len * 8;
    a->items_end = c->p;
    return 0;
  case 'l':
    if (take_u32(c, &a->len)) return -1;
    a->items = c->p;
    for (uint32_t i = 0; i < a->len; i++)
      if (take_string(c, &s, &n)) return -1;
    a->items_end = c->p;
    return 0;
  }
  return -1;
}

int program_decode(const unsigned char *buf, size_t len, struct step **steps, uint32_t *count,
                   int32_t *bad) {
  struct cursor c = {buf, buf + len};
  uint32_t magic, version, zero;
  *bad = -1;
  if (take_u32(&c, &magic) || take_u32(&c, &version) || take_u32(&c, count) ||
      take_u32(&c, &zero) || magic != PROGRAM_MAGIC || version != PROGRAM_VERSION ||
      *count > len / 8)
    return -1;
  *steps = calloc(*count ? *count : 1, sizeof(struct step));
  if (!*steps) return -1;
  for (uint32_t i = 0; i < *count; i++) {
    struct step *s = &(*steps)[i];
    uint32_t size;
    *bad = (int32_t)i;
    if (take_u32(&c, &s->op) || take_u32(&c, &size) || s->op >= OP_COUNT ||
        (size_t)(c.end - c.p) < size)
      return -1;
    struct cursor payload = {c.p, c.p + size};
    const char *sig = SIGNATURES[s->op];
    for (int k = 0; sig[k]; k++)
      if (take_field(&payload, sig[k], &s->a[k])) return -1;
    if (payload.p != payload.end) return -1;
    c.p += size;
  }
  if (c.p != c.end) {
    *bad = -1;
    return -1;
  }
  return 0;
}

int64_t list_int(const struct arg *a, uint32_t index) {
  int64_t v;
  memcpy(&v, a->items + (size_t)index * 8, 8);
  return v;
}

char **list_strings(const struct arg *a) {
  char **out = calloc((size_t)a->len + 1, sizeof(char *));
  if (!out) return NULL;
  struct cursor c = {a->items, a->items_end};
  for (uint32_t i = 0; i < a->len; i++) {
    uint32_t n;
    take_string(&c, (const char **)&out[i], &n);
  }
  return out;
}
