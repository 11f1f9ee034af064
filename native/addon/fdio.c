/* File-descriptor syscalls Node lacks: socketpair, sendMsg/recvMsg with SCM_RIGHTS,
 * waitReadable, memfdFromFile, flock, openat2, unixConnect, setCloexec, mkfifo, errnoName, and
 * mapFile/mapDrop (a file read through the page cache without copies).
 * Every fd the addon creates is close-on-exec. */
#include "hood.h"
#include "poll.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* Read-only mappings of whole files (mapFile), so that extraction reads a tar from the page
 * cache without copying it: each is an external ArrayBuffer, unmapped when it is collected
 * (its length rides in the finalizer's hint). Each is type-tagged, so that mapDrop only ever
 * drops the page-table entries of a mapping made here (MADV_DONTNEED on ordinary memory
 * would zero it). */
static const napi_type_tag mapping_tag = {0x686f6f642d6d6170ULL, 0x6d617046696c6500ULL};

static void unmap_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/* mapFile(fd, length) -> ArrayBuffer: a shared read-only mapping of fd's first `length` bytes,
 * read sequentially (MADV_SEQUENTIAL). The file must not shrink while it is mapped: a page
 * past its new end is SIGBUS. */
static napi_value map_file(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  int64_t len;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || hood_arg_int64(env, argv[1], &len, "length")) return NULL;
  if (len <= 0) return hood_throw_type(env, "mapFile: length must be positive");
  void *addr = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return hood_throw_errno(env, "mmap", errno, NULL);
  madvise(addr, (size_t)len, MADV_SEQUENTIAL);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, unmap_finalize, (void *)(uintptr_t)len, &ab) !=
      napi_ok) {
    munmap(addr, (size_t)len);
    return hood_throw_errno(env, "napi_create_external_arraybuffer", ENOMEM, NULL);
  }
  /* (Untagged, the buffer is left to the collector, which unmaps it.) */
  if (napi_type_tag_object(env, ab, &mapping_tag) != napi_ok)
    return hood_throw_type(env, "mapFile: cannot tag the mapping");
  return ab;
}

/* mapDrop(buffer, offset, length): drops the page-table entries of whole pages in that range
 * of a mapFile buffer (the file's pages stay in the page cache, and a later read faults them
 * in again, unchanged), so that the process's RSS does not grow with the file. */
static napi_value map_drop(napi_env env, napi_callback_info info) {
  ARGS(3);
  void *data;
  size_t len;
  int64_t off, n;
  bool ours = false;
  if (napi_check_object_type_tag(env, argv[0], &mapping_tag, &ours) != napi_ok || !ours ||
      napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok)
    return hood_throw_type(env, "mapDrop: not a buffer of mapFile");
  if (hood_arg_int64(env, argv[1], &off, "offset") || hood_arg_int64(env, argv[2], &n, "length")) return NULL;
  if (off < 0 || n < 0 || (uint64_t)off > len || (uint64_t)n > len - (uint64_t)off)
    return hood_throw_type(env, "mapDrop: range outside the mapping");
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t from = ((size_t)off + page - 1) & ~(page - 1);
  size_t to = ((size_t)off + (size_t)n) & ~(page - 1);
  if (to > from && madvise((char *)data + from, to - from, MADV_DONTNEED) < 0)
    return hood_throw_errno(env, "madvise", errno, NULL);
  return NULL;
}

static napi_value socket_pair(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t type;
  if (hood_arg_int32(env, argv[0], &type, "type")) return NULL;
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
    return hood_throw_errno(env, "socketpair", errno, NULL);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, hood_int(env, sv[0]));
  napi_set_element(env, arr, 1, hood_int(env, sv[1]));
  return arr;
}

/* Reads the bytes of a Buffer / Uint8Array argument without copying. */
static int arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (!is_typed) {
    hood_throw_type(env, "data must be a Uint8Array");
    return -1;
  }
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, v, &t, len, data, &ab, &off);
  if (t != napi_uint8_array && t != napi_uint8_clamped_array && t != napi_int8_array) {
    hood_throw_type(env, "data must be a Uint8Array");
    return -1;
  }
  return 0;
}

#define MAX_FDS 253 /* SCM_MAX_FD */

static napi_value send_msg(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd;
  void *data;
  size_t len;
  uint32_t nfds = 0;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || arg_bytes(env, argv[1], &data, &len)) return NULL;
  napi_get_array_length(env, argv[2], &nfds);
  if (nfds > MAX_FDS) return hood_throw_type(env, "too many fds for one message");
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    napi_get_element(env, argv[2], i, &v);
    if (hood_arg_int32(env, v, &fds[i], "fd")) return NULL;
  }
  struct iovec iov = {data, len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return hood_throw_errno(env, "sendmsg", errno, NULL);
  return hood_int(env, (int32_t)n);
}

static napi_value recv_msg(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, max_bytes, max_fds;
  if (hood_arg_int32(env, argv[0], &fd, "fd") ||
      hood_arg_int32(env, argv[1], &max_bytes, "maxBytes") ||
      hood_arg_int32(env, argv[2], &max_fds, "maxFds"))
    return NULL;
  if (max_bytes < 0 || max_fds < 0 || max_fds > MAX_FDS)
    return hood_throw_type(env, "maxBytes and maxFds must be >= 0 (maxFds <= 253)");
  char *buf = malloc(max_bytes > 0 ? (size_t)max_bytes : 1);
  if (!buf) return hood_throw_errno(env, "malloc", ENOMEM, NULL);
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {buf, (size_t)max_bytes};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (max_fds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  }
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    free(buf);
    if (e == EAGAIN || e == EWOULDBLOCK) {
      napi_value null;
      napi_get_null(env, &null);
      return null;
    }
    return hood_throw_errno(env, "recvmsg", e, NULL);
  }
  int fds[MAX_FDS];
  size_t nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k && nfds < MAX_FDS; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  /* A cut message or lost fds would be misread silently: fail loudly, leak nothing. */
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    free(buf);
    return hood_throw_errno(env, "recvmsg", EMSGSIZE, NULL);
  }
  napi_value out, data, arr;
  napi_create_object(env, &out);
  napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data);
  free(buf);
  napi_create_array_with_length(env, nfds, &arr);
  for (size_t i = 0; i < nfds; i++) napi_set_element(env, arr, (uint32_t)i, hood_int(env, fds[i]));
  napi_set_named_property(env, out, "data", data);
  napi_set_named_property(env, out, "fds", arr);
  return out;
}

static napi_value wait_readable(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  return hood_poll_promise(env, fd, HOOD_POLL_READABLE);
}

static napi_value wait_any_readable(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok || n < 1 || n > 64)
    return hood_throw_type(env, "fds must be an array of 1 to 64 fds");
  int fds[64];
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, argv[0], i, &v);
    if (hood_arg_int32(env, v, &fds[i], "fds[i]")) return NULL;
  }
  return hood_poll_any(env, fds, (int)n);
}

static napi_value memfd_from_file(napi_env env, napi_callback_info info) {
  ARGS(2);
  char *path = NULL, *name = NULL;
  napi_value result = NULL;
  int in = -1, mfd = -1;
  char *buf = NULL;
  if (hood_arg_string(env, argv[0], &path, "path") || hood_arg_string(env, argv[1], &name, "name"))
    goto out;
  in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    hood_throw_errno(env, "open", errno, path);
    goto out;
  }
  mfd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mfd < 0 && errno == EINVAL) /* kernels before 6.3 know no MFD_EXEC: memfds are executable */
    mfd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) {
    hood_throw_errno(env, "memfd_create", errno, name);
    goto out;
  }
  buf = malloc(1 << 16);
  for (;;) {
    ssize_t n = read(in, buf, 1 << 16);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      hood_throw_errno(env, "read", errno, path);
      goto out;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(mfd, buf + done, (size_t)(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        hood_throw_errno(env, "write", errno, name);
        goto out;
      }
      done += w;
    }
  }
  int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if (fcntl(mfd, F_ADD_SEALS, seals | F_SEAL_EXEC) < 0 && fcntl(mfd, F_ADD_SEALS, seals) < 0) {
    hood_throw_errno(env, "fcntl F_ADD_SEALS", errno, name);
    goto out;
  }
  result = hood_int(env, mfd);
  mfd = -1;
out:
  if (in >= 0) close(in);
  if (mfd >= 0) close(mfd);
  free(buf);
  free(path);
  free(name);
  return result;
}

static napi_value do_flock(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, op;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || hood_arg_int32(env, argv[1], &op, "operation"))
    return NULL;
  int r;
  do r = flock(fd, op);
  while (r < 0 && errno == EINTR);
  if (r < 0) return hood_throw_errno(env, "flock", errno, NULL);
  return NULL;
}

static napi_value do_openat2(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t dirfd, flags, mode;
  int64_t resolve;
  char *path;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || hood_arg_int32(env, argv[2], &flags, "flags") ||
      hood_arg_int32(env, argv[3], &mode, "mode") || hood_arg_int64(env, argv[4], &resolve, "resolve") ||
      hood_arg_string(env, argv[1], &path, "path"))
    return NULL;
  struct open_how how = {
      .flags = (uint64_t)(uint32_t)flags | O_CLOEXEC, .mode = (uint64_t)mode, .resolve = (uint64_t)resolve};
  long fd;
  do fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  napi_value r = fd < 0 ? hood_throw_errno(env, "openat2", errno, path) : hood_int(env, (int32_t)fd);
  free(path);
  return r;
}

static napi_value unix_connect(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *path;
  if (hood_arg_string(env, argv[0], &path, "path")) return NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  napi_value result = NULL;
  if (strlen(path) >= sizeof addr.sun_path) {
    hood_throw_errno(env, "connect", ENAMETOOLONG, path);
    goto out;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    hood_throw_errno(env, "socket", errno, NULL);
    goto out;
  }
  int r;
  do r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(fd);
    hood_throw_errno(env, "connect", e, path);
    goto out;
  }
  result = hood_int(env, fd);
out:
  free(path);
  return result;
}

static napi_value set_cloexec(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  bool on;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return hood_throw_type(env, "on must be a boolean");
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return hood_throw_errno(env, "fcntl F_GETFD", errno, NULL);
  flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (fcntl(fd, F_SETFD, flags) < 0) return hood_throw_errno(env, "fcntl F_SETFD", errno, NULL);
  return NULL;
}

static napi_value do_mkfifo(napi_env env, napi_callback_info info) {
  ARGS(2);
  char *path;
  int32_t mode;
  if (hood_arg_int32(env, argv[1], &mode, "mode") || hood_arg_string(env, argv[0], &path, "path"))
    return NULL;
  if (mkfifo(path, (mode_t)mode) < 0) hood_throw_errno(env, "mkfifo", errno, path);
  free(path);
  return NULL;
}

static napi_value errno_name(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t e;
  if (hood_arg_int32(env, argv[0], &e, "errno")) return NULL;
  napi_value out, name, message;
  char text[256];
  const char *s = strerror_r(e < 0 ? -e : e, text, sizeof text);
  napi_create_object(env, &out);
  napi_create_string_utf8(env, hood_errno_name(e < 0 ? -e : e), NAPI_AUTO_LENGTH, &name);
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &message);
  napi_set_named_property(env, out, "name", name);
  napi_set_named_property(env, out, "message", message);
  return out;
}

void hood_register_fdio(napi_env env, napi_value exports) {
  hood_export(env, exports, "socketpair", socket_pair);
  hood_export(env, exports, "sendMsg", send_msg);
  hood_export(env, exports, "recvMsg", recv_msg);
  hood_export(env, exports, "waitReadable", wait_readable);
  hood_export(env, exports, "waitAnyReadable", wait_any_readable);
  hood_export(env, exports, "memfdFromFile", memfd_from_file);
  hood_export(env, exports, "flock", do_flock);
  hood_export(env, exports, "openat2", do_openat2);
  hood_export(env, exports, "unixConnect", unix_connect);
  hood_export(env, exports, "setCloexec", set_cloexec);
  hood_export(env, exports, "mkfifo", do_mkfifo);
  hood_export(env, exports, "errnoName", errno_name);
  hood_export(env, exports, "mapFile", map_file);
  hood_export(env, exports, "mapDrop", map_drop);
}
