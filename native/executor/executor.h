/* Shared state and helpers of the executor's parts. Step functions return 0 or -errno. */
#ifndef HOOD_EXECUTOR_H
#define HOOD_EXECUTOR_H

#include "program.h"

#include <sys/types.h>

/* Detached mount trees made by idmap-tree, waiting for move-mount. */
#define TREE_SLOTS 64

struct executor {
  int sync; /* the sync socket to the parent (close-on-exec) */
  int root; /* the container's root directory (O_PATH), -1 before open-root */
  int trees[TREE_SLOTS]; /* -1 when empty */
};

/* Sends a 24-byte message on the sync socket (MSG_NOSIGNAL). */
int send_message(int sync, uint32_t type, int32_t step, int32_t err, int64_t value);
/* Sends data with one fd attached (SCM_RIGHTS, MSG_NOSIGNAL). */
int send_fd(int sock, const void *data, size_t len, int fd);

/* "/proc/self/fd/N" into buf (at least 32 bytes). */
const char *fd_path(char *buf, int fd);
/* openat2(root, path, flags | O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). */
int open_in_root(int root, const char *path, int flags, mode_t mode);
/* Creates every missing directory of path in root; returns an O_PATH fd of it. */
int mkdir_in_root(int root, const char *path, mode_t mode);
/* Creates the parents and then the file if it is missing; returns an O_PATH fd of it. */
int mkfile_in_root(int root, const char *path, mode_t mode);
/* The parent directory of path, resolved in root (an O_PATH fd), and its last component
 * copied into base (PATH_MAX bytes). */
int parent_in_root(int root, const char *path, char *base);

/* Filesystem steps (fs.c). */
int step_mount(struct executor *x, const struct arg *a);
int step_mask_path(struct executor *x, const struct arg *a);
int step_readonly_path(struct executor *x, const struct arg *a);
int step_mknod(struct executor *x, const struct arg *a);
int step_symlink(struct executor *x, const struct arg *a);
int step_pivot_root(struct executor *x);
int step_move_root(struct executor *x);
int step_console(struct executor *x, const struct arg *a);

/* Mount-tree steps (mounts.c): propagation, mount_setattr, idmapped trees. */
int step_privatize_mount(const struct arg *a);
int step_mount_setattr(struct executor *x, const struct arg *a);
int step_idmap_tree(struct executor *x, const struct arg *a);
int step_move_mount(struct executor *x, const struct arg *a);
int step_write_procfs(struct executor *x, const struct arg *a);

#endif
