/* Test helper: loads a BPF seccomp filter from a file and execs a command under it.
 *   loader FILTER.bpf FLAGS CMD [ARGS...]
 * With SECCOMP_FILTER_FLAG_NEW_LISTENER in FLAGS it forks: the child execs CMD, the parent
 * answers every notification with EXDEV and prints "notify nr=N" for each. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: loader FILTER.bpf FLAGS CMD [ARGS...]\n");
    return 125;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    perror(argv[1]);
    return 125;
  }
  struct sock_filter *insns = malloc(st.st_size);
  if (read(fd, insns, st.st_size) != st.st_size) {
    perror("read");
    return 125;
  }
  close(fd);
  struct sock_fprog prog = {.len = (unsigned short)(st.st_size / 8), .filter = insns};
  unsigned long flags = strtoul(argv[2], NULL, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    perror("prctl");
    return 125;
  }
  long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (listener < 0) {
    perror("seccomp");
    return 125;
  }
  if (!(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
    execv(argv[3], argv + 3);
    perror("execv");
    return 127;
  }
  pid_t child = fork();
  if (child == 0) {
    close((int)listener);
    execv(argv[3], argv + 3);
    _exit(127);
  }
  struct seccomp_notif_sizes sizes;
  syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
  struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
  struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
  /* The parent is under the filter too, so the listener never reports the child's exit:
   * poll it with a timeout and check on the child between notifications. */
  for (;;) {
    int status;
    if (waitpid(child, &status, WNOHANG) == child)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    struct pollfd pfd = {.fd = (int)listener, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0) continue;
    memset(req, 0, sizes.seccomp_notif);
    if (ioctl((int)listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) continue;
    printf("notify nr=%d\n", req->data.nr);
    fflush(stdout);
    memset(resp, 0, sizes.seccomp_notif_resp);
    resp->id = req->id;
    resp->error = -EXDEV;
    ioctl((int)listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
  }
  int status;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
