/* Prints libseccomp's syscall tables as JSON for scripts/gen-syscall-tables.mjs.
 *
 * The authority is libseccomp itself (Debian's libseccomp-dev, 2.5.x): every number it can
 * name is asked back by name, per architecture, with seccomp_syscall_resolve_num_arch. Which
 * ABIs multiplex socket and SysV IPC calls through socketcall(2) and ipc(2) is also asked of
 * libseccomp, by compiling a one-rule filter and looking for the multiplexer in its BPF. */
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct arch {
  const char *name;
  uint32_t token;
};

static const struct arch arches[] = {
    {"x86_64", SCMP_ARCH_X86_64},   {"x86", SCMP_ARCH_X86},
    {"x32", SCMP_ARCH_X32},         {"aarch64", SCMP_ARCH_AARCH64},
    {"arm", SCMP_ARCH_ARM},         {"riscv64", SCMP_ARCH_RISCV64},
    {"s390x", SCMP_ARCH_S390X},     {"s390", SCMP_ARCH_S390},
    {"ppc64le", SCMP_ARCH_PPC64LE}, {"ppc64", SCMP_ARCH_PPC64},
    {"ppc", SCMP_ARCH_PPC},         {"mips64", SCMP_ARCH_MIPS64},
    {"mips64n32", SCMP_ARCH_MIPS64N32}, {"mips", SCMP_ARCH_MIPS},
    {"mipsel64", SCMP_ARCH_MIPSEL64}, {"mipsel64n32", SCMP_ARCH_MIPSEL64N32},
    {"mipsel", SCMP_ARCH_MIPSEL},
};

/* True when libseccomp turns a rule on `direct` into a rule on the multiplexer `mux`. */
static int multiplexes(uint32_t token, const char *direct, const char *mux) {
  int muxnr = seccomp_syscall_resolve_name_arch(token, mux);
  if (muxnr < 0) return 0;
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) exit(1);
  if (seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE) < 0 && token != seccomp_arch_native()) exit(1);
  if (token != seccomp_arch_native() && seccomp_arch_add(ctx, token) < 0) exit(1);
  if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(7), seccomp_syscall_resolve_name(direct), 0) < 0) exit(1);
  FILE *f = tmpfile();
  if (!f || seccomp_export_bpf(ctx, fileno(f)) < 0) exit(1);
  rewind(f);
  struct sock_filter insn;
  int found = 0;
  while (fread(&insn, sizeof insn, 1, f) == 1)
    /* libseccomp writes a big-endian filter in big-endian byte order. */
    if ((insn.code == (BPF_JMP | BPF_JEQ | BPF_K) && insn.k == (uint32_t)muxnr) ||
        (__builtin_bswap16(insn.code) == (BPF_JMP | BPF_JEQ | BPF_K) &&
         __builtin_bswap32(insn.k) == (uint32_t)muxnr))
      found = 1;
  fclose(f);
  seccomp_release(ctx);
  return found;
}

int main(void) {
  const struct scmp_version *v = seccomp_version();
  printf("{\"libseccomp\":\"%u.%u.%u\",\"arches\":[", v->major, v->minor, v->micro);
  for (size_t a = 0; a < sizeof arches / sizeof arches[0]; a++) {
    uint32_t token = arches[a].token;
    printf("%s{\"name\":\"%s\",\"socketcall\":%d,\"ipc\":%d,\"syscalls\":{", a ? "," : "",
           arches[a].name, multiplexes(token, "socket", "socketcall"),
           multiplexes(token, "shmget", "ipc"));
    int first = 1;
    /* Every table libseccomp has lies below 8192 (mips o32 starts at 4000, n64 at 5000,
     * n32 at 6000), except x32, whose numbers carry the 0x40000000 bit. */
    uint32_t bases[] = {0, 0x40000000};
    for (int b = 0; b < 2; b++)
      for (uint32_t n = bases[b]; n < bases[b] + 8192; n++) {
        char *name = seccomp_syscall_resolve_num_arch(token, (int)n);
        if (!name) continue;
        /* On ABIs that multiplex, libseccomp answers a direct socket call's name with its
         * pseudo number (socket -> -101), yet the direct number is real: keep it. */
        int back = seccomp_syscall_resolve_name_arch(token, name);
        if (back == (int)n || back < 0) {
          printf("%s\"%s\":%u", first ? "" : ",", name, n);
          first = 0;
        }
        free(name);
      }
    printf("}}");
  }
  printf("]}\n");
  return 0;
}
