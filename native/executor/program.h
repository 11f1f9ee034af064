/* The setup program's wire format, as encoded by src/setup/program.ts and documented in
 * docs/ARCHITECTURE.md ("The setup program"). The two must agree. */
#ifndef HOOD_PROGRAM_H
#define HOOD_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#define PROGRAM_MAGIC 0x444f4f48u /* "HOOD" */
#define PROGRAM_VERSION 1u
#define PROGRAM_MAX (4u << 20)

enum op {
  OP_SETNS, OP_UNSHARE, OP_SYNC, OP_REPORT, OP_FORK, OP_SETHOSTNAME, OP_SETDOMAINNAME,
  OP_OPEN_ROOT, OP_MKDIR_IN_ROOT, OP_MKFILE_IN_ROOT, OP_MOUNT, OP_MKNOD_IN_ROOT,
  OP_SYMLINK_IN_ROOT, OP_PIVOT_ROOT, OP_MOVE_ROOT, OP_MASK_PATH, OP_READONLY_PATH,
  OP_WRITE_FILE, OP_SETRLIMIT, OP_SETGROUPS, OP_SETRESGID, OP_SETRESUID, OP_PRCTL, OP_CAPSET,
  OP_UMASK, OP_CHDIR, OP_SECCOMP, OP_CONSOLE, OP_CLOSE_FDS, OP_WAIT_FOR_START, OP_FIND_EXEC,
  OP_EXEC, OP_CLOSE_FD, OP_PRIVATIZE_MOUNT, OP_MOUNT_SETATTR, OP_IDMAP_TREE, OP_MOVE_MOUNT,
  OP_WRITE_PROCFS, OP_WRITE_FD, OP_COUNT
};

/* Messages to the parent (24 bytes) and its replies (one u32). */
enum msg_type { MSG_SYNC = 2, MSG_REPORT = 3, MSG_FORKED = 4, MSG_ERROR = 5, MSG_FD = 6 };
enum reply { REPLY_GO = 1, REPLY_ABORT = 2 };

struct message {
  uint32_t type;
  int32_t step;
  int32_t err;
  uint32_t zero;
  int64_t value;
};

/* Mount step `how` bits. */
#define HOW_TARGET_IN_ROOT 1
#define HOW_SOURCE_IN_ROOT 2
#define HOW_SOURCE_NULL 4
#define HOW_CREATE_TARGET 8

/* One decoded field. Strings point into the program buffer and are NUL-terminated there;
 * lists keep their count and the offset of their first item, and are read with the
 * list_* helpers (the wire format does not align int64s). */
struct arg {
  int64_t i;
  const char *s;
  uint32_t len; /* string length or list count */
  const unsigned char *items, *items_end;
};

#define MAX_ARGS 6

struct step {
  uint32_t op;
  struct arg a[MAX_ARGS];
};

/* Decodes and bounds-checks every step; 0, or -1 with *bad = the failing step index (-1
 * for the header). */
int program_decode(const unsigned char *buf, size_t len, struct step **steps, uint32_t *count,
                   int32_t *bad);

int64_t list_int(const struct arg *a, uint32_t index);
/* A NULL-terminated array of the list's strings (malloc'd; the strings stay in place). */
char **list_strings(const struct arg *a);

#endif
