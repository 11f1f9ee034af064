/* A seccomp notify agent for the runtime test: listens on a unix socket (argv[1]), receives
 * the listener fd with SCM_RIGHTS plus the runtime's state JSON, prints the JSON and every
 * notified syscall number, and answers each with EXDEV. */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 1) < 0) return 2;
  printf("listening\n");
  fflush(stdout);
  int c = accept(s, NULL, NULL);
  char buf[65536];
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  ssize_t n = recvmsg(c, &msg, 0);
  if (n < 0) return 3;
  buf[n] = 0;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return 4;
  int listener;
  memcpy(&listener, CMSG_DATA(cm), sizeof listener);
  printf("state %s\n", buf);
  fflush(stdout);
  struct seccomp_notif_sizes sizes;
  syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
  struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
  struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
  for (;;) {
    memset(req, 0, sizes.seccomp_notif);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    printf("syscall %d\n", req->data.nr);
    fflush(stdout);
    memset(resp, 0, sizes.seccomp_notif_resp);
    resp->id = req->id;
    resp->error = -EXDEV;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
  }
  return 0;
}
