/* btrfs subvolume ioctls and reflink copies for the storage drivers: create a subvolume,
 * snapshot one (v2), destroy one, read-only flag, quota and an exclusive qgroup limit, FICLONE
 * and copy_file_range. Thin wrappers only: one ioctl or syscall each, no policy. */
#include "hood.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A subvolume name: one component, shorter than the ioctl's name buffer. */
static int arg_name(napi_env env, napi_value v, char **out, size_t max) {
  if (hood_arg_string(env, v, out, "name")) return -1;
  if (strlen(*out) == 0 || strlen(*out) >= max || strchr(*out, '/')) {
    free(*out);
    hood_throw_type(env, "name must be one non-empty path component that fits the ioctl buffer");
    return -1;
  }
  return 0;
}

/* btrfsSubvolCreate(dirfd, name) */
static napi_value subvol_create(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t dirfd;
  char *name;
  struct btrfs_ioctl_vol_args_v2 args;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || arg_name(env, argv[1], &name, sizeof args.name))
    return NULL;
  memset(&args, 0, sizeof args);
  strcpy(args.name, name);
  int r = ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE_V2, &args);
  napi_value out = r < 0 ? hood_throw_errno(env, "BTRFS_IOC_SUBVOL_CREATE_V2", errno, name) : hood_undefined(env);
  free(name);
  return out;
}

/* btrfsSnapshot(srcFd, dirfd, name, readonly) */
static napi_value snapshot(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t src, dirfd;
  bool readonly = false;
  char *name;
  struct btrfs_ioctl_vol_args_v2 args;
  if (hood_arg_int32(env, argv[0], &src, "srcFd") || hood_arg_int32(env, argv[1], &dirfd, "dirfd") ||
      arg_name(env, argv[2], &name, sizeof args.name))
    return NULL;
  napi_get_value_bool(env, argv[3], &readonly);
  memset(&args, 0, sizeof args);
  args.fd = src;
  args.flags = readonly ? BTRFS_SUBVOL_RDONLY : 0;
  strcpy(args.name, name);
  int r = ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &args);
  napi_value out = r < 0 ? hood_throw_errno(env, "BTRFS_IOC_SNAP_CREATE_V2", errno, name) : hood_undefined(env);
  free(name);
  return out;
}

/* btrfsSnapDestroy(dirfd, name): deletes a subvolume (and everything in it). */
static napi_value snap_destroy(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t dirfd;
  char *name;
  struct btrfs_ioctl_vol_args args;
  if (hood_arg_int32(env, argv[0], &dirfd, "dirfd") || arg_name(env, argv[1], &name, sizeof args.name))
    return NULL;
  memset(&args, 0, sizeof args);
  strcpy(args.name, name);
  int r = ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &args);
  napi_value out = r < 0 ? hood_throw_errno(env, "BTRFS_IOC_SNAP_DESTROY", errno, name) : hood_undefined(env);
  free(name);
  return out;
}

/* btrfsSetReadonly(fd, readonly): the subvolume's BTRFS_SUBVOL_RDONLY flag. */
static napi_value set_readonly(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  bool on = false;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  napi_get_value_bool(env, argv[1], &on);
  uint64_t flags = 0;
  if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
    return hood_throw_errno(env, "BTRFS_IOC_SUBVOL_GETFLAGS", errno, NULL);
  flags = on ? (flags | BTRFS_SUBVOL_RDONLY) : (flags & ~(uint64_t)BTRFS_SUBVOL_RDONLY);
  if (ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags) < 0)
    return hood_throw_errno(env, "BTRFS_IOC_SUBVOL_SETFLAGS", errno, NULL);
  return hood_undefined(env);
}

/* btrfsQuotaEnable(fd): turns quota accounting on for the filesystem of fd. */
static napi_value quota_enable(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (hood_arg_int32(env, argv[0], &fd, "fd")) return NULL;
  struct btrfs_ioctl_quota_ctl_args args = {.cmd = BTRFS_QUOTA_CTL_ENABLE};
  if (ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args) < 0)
    return hood_throw_errno(env, "BTRFS_IOC_QUOTA_CTL", errno, NULL);
  return hood_undefined(env);
}

/* btrfsQgroupLimit(fd, maxExclusive): limits the exclusive bytes of the subvolume of fd
 * (qgroup 0/<its id>); 0 removes the limit. */
static napi_value qgroup_limit(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  uint64_t max;
  if (hood_arg_int32(env, argv[0], &fd, "fd") || hood_arg_uint64(env, argv[1], &max, "maxExclusive"))
    return NULL;
  struct btrfs_ioctl_qgroup_limit_args args;
  memset(&args, 0, sizeof args);
  args.qgroupid = 0; /* the kernel takes the subvolume of fd */
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_EXCL;
  args.lim.max_excl = max == 0 ? (uint64_t)-1 : max;
  if (ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args) < 0)
    return hood_throw_errno(env, "BTRFS_IOC_QGROUP_LIMIT", errno, NULL);
  return hood_undefined(env);
}

/* ficlone(dstFd, srcFd): shares the source's extents (a reflink). EOPNOTSUPP, EXDEV or
 * EINVAL mean the filesystem cannot, and the caller copies instead. */
static napi_value ficlone(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t dst, src;
  if (hood_arg_int32(env, argv[0], &dst, "dstFd") || hood_arg_int32(env, argv[1], &src, "srcFd")) return NULL;
  if (ioctl(dst, FICLONE, src) < 0) return hood_throw_errno(env, "FICLONE", errno, NULL);
  return hood_undefined(env);
}

/* copyFileRange(srcFd, dstFd, length): copies `length` bytes from both files' offsets;
 * returns the bytes copied (fewer when the source ended). */
static napi_value copy_range(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t src, dst;
  int64_t len;
  if (hood_arg_int32(env, argv[0], &src, "srcFd") || hood_arg_int32(env, argv[1], &dst, "dstFd") ||
      hood_arg_int64(env, argv[2], &len, "length"))
    return NULL;
  int64_t done = 0;
  while (done < len) {
    ssize_t n = copy_file_range(src, NULL, dst, NULL, (size_t)(len - done), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return hood_throw_errno(env, "copy_file_range", errno, NULL);
    }
    if (n == 0) break;
    done += n;
  }
  napi_value v;
  napi_create_int64(env, done, &v);
  return v;
}

void hood_register_btrfs(napi_env env, napi_value exports) {
  hood_export(env, exports, "btrfsSubvolCreate", subvol_create);
  hood_export(env, exports, "btrfsSnapshot", snapshot);
  hood_export(env, exports, "btrfsSnapDestroy", snap_destroy);
  hood_export(env, exports, "btrfsSetReadonly", set_readonly);
  hood_export(env, exports, "btrfsQuotaEnable", quota_enable);
  hood_export(env, exports, "btrfsQgroupLimit", qgroup_limit);
  hood_export(env, exports, "ficlone", ficlone);
  hood_export(env, exports, "copyFileRange", copy_range);
}
