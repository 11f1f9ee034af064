/* Prints the euid and the capability lines of its own status: a setuid or file-capability
 * test binary for the container tests (static, so it runs in a busybox rootfs). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  printf("euid %d\n", (int)geteuid());
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10)) fputs(line, stdout);
  }
  return 0;
}
