/* Builds a filter with libseccomp from a line script on stdin and writes its BPF
 * (seccomp_export_bpf) to the file named in argv[1]. Used by hood's differential tests and
 * benchmark; the script is written by test/interop/seccomp/libseccomp.ts.
 *
 *   default <action>            seccomp_init(action)
 *   badarch <action>            SCMP_FLTATR_ACT_BADARCH
 *   optimize <level>            SCMP_FLTATR_CTL_OPTIMIZE (2: binary tree, as runc uses)
 *   arch <token>                seccomp_arch_add; the first one removes the native arch, so
 *                               the filter has exactly the ABIs named
 *   rule <action> <name> <n> [<arg> <op> <datum_a> <datum_b>]*n
 *
 * Syscall names are resolved for the native arch, as runc and crun do; libseccomp then
 * translates them per arch. Exit status 2 and a message on stderr name the failing line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(int line, const char *what, int rc) {
  fprintf(stderr, "line %d: %s: %s\n", line, what, strerror(rc < 0 ? -rc : rc));
  exit(2);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: harness OUT.bpf < script\n");
    return 2;
  }
  char buf[65536];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  scmp_filter_ctx ctx = NULL;
  int arches = 0, line = 0, rc;
  while (fgets(buf, sizeof buf, stdin)) {
    line++;
    char *save = NULL;
    char *word = strtok_r(buf, " \n", &save);
    if (!word) continue;
    if (!strcmp(word, "default")) {
      uint32_t action = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
      ctx = seccomp_init(action);
      if (!ctx) die(line, "seccomp_init", EINVAL);
      continue;
    }
    if (!ctx) die(line, "the script must start with default", EINVAL);
    if (!strcmp(word, "badarch")) {
      uint32_t action = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
      if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, action)) < 0) die(line, "badarch", rc);
    } else if (!strcmp(word, "optimize")) {
      uint32_t level = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
      if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, level)) < 0) die(line, "optimize", rc);
    } else if (!strcmp(word, "arch")) {
      uint32_t token = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
      /* Removing the native arch first lets a filter hold only big-endian ABIs. */
      if (arches++ == 0 && (rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE)) < 0) die(line, "remove native arch", rc);
      if ((rc = seccomp_arch_add(ctx, token)) < 0 && rc != -EEXIST) die(line, "seccomp_arch_add", rc);
    } else if (!strcmp(word, "rule")) {
      uint32_t action = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
      const char *name = strtok_r(NULL, " \n", &save);
      unsigned n = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
      struct scmp_arg_cmp cmp[6];
      if (n > 6) die(line, "more than 6 conditions", EINVAL);
      for (unsigned i = 0; i < n; i++) {
        cmp[i].arg = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
        cmp[i].op = strtoul(strtok_r(NULL, " \n", &save), NULL, 0);
        cmp[i].datum_a = strtoull(strtok_r(NULL, " \n", &save), NULL, 0);
        cmp[i].datum_b = strtoull(strtok_r(NULL, " \n", &save), NULL, 0);
      }
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue;
      if ((rc = seccomp_rule_add_array(ctx, action, nr, n, cmp)) < 0) die(line, name, rc);
    } else {
      die(line, word, EINVAL);
    }
  }
  if (!ctx) die(line, "empty script", EINVAL);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die(line, argv[1], errno);
  if ((rc = seccomp_export_bpf(ctx, fd)) < 0) die(line, "seccomp_export_bpf", rc);
  close(fd);
  seccomp_release(ctx);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  /* For the benchmark: the time libseccomp took, script parsing included. */
  if (getenv("HOOD_HARNESS_TIME"))
    fprintf(stderr, "ns %lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
  return 0;
}
