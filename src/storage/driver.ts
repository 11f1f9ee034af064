/**
 * The one interface every storage driver implements. A driver knows how to keep layers and
 * container root filesystems on its kind of storage; the store (store.ts) decides when, keeps
 * the metadata and the tar-split files, and calls these under its lock. Every remove is
 * idempotent (absent is fine), so the store can finish an interrupted one.
 */
export type DriverName = "overlay" | "btrfs" | "lvmthin" | "vfs";

export const DRIVER_NAMES: readonly DriverName[] = ["overlay", "btrfs", "lvmthin", "vfs"];

export interface DriverContext {
  /** The driver's own directory: `<storage root>/<driver name>`. */
  home: string;
  /** `--storage-opt` values for this driver (`overlay.mount_program` style keys, prefix removed). */
  options: Record<string, string>;
  warn: (message: string) => void;
}

export interface Driver {
  readonly name: DriverName;
  /**
   * How a layer tar must be extracted into this driver's layer directory: "overlay" keeps
   * whiteouts as overlayfs whiteouts (the layer is one overlay lower), "apply" deletes what
   * they hide (the layer directory is the whole image up to this layer).
   */
  readonly whiteouts: "overlay" | "apply";
  /** Makes the driver's directories; checks that the backing storage fits. */
  init(): Promise<void>;
  /**
   * Creates layer `id` on top of `parent` and lets `fill` write its files into the directory
   * it is given. The layer is complete when the promise resolves.
   */
  createLayer(
    id: string,
    parent: string | undefined,
    fill: (dir: string) => Promise<void>,
  ): Promise<void>;
  renameLayer(from: string, to: string): Promise<void>;
  removeLayer(id: string): Promise<void>;
  /** Runs `fn` with a directory holding the layer's files as its tar extracted them. */
  withLayerFiles<T>(id: string, fn: (dir: string) => Promise<T>): Promise<T>;
  /**
   * Creates container `id`'s writable root filesystem on top of `chain` (the layer and its
   * ancestors, top first) and, unless `mount` is false, mounts it; returns its path. Drivers
   * whose rootfs is a plain directory (btrfs, vfs) have nothing to mount.
   */
  createContainer(id: string, chain: string[], mount?: boolean): Promise<string>;
  /** Mounts a container's rootfs again (after a reboot, or after unmount); returns its path. */
  mountContainer(id: string, chain: string[]): Promise<string>;
  unmountContainer(id: string): Promise<void>;
  /** Where the container's root filesystem is (mounted or not). */
  containerPath(id: string): string;
  isMounted(id: string): boolean;
  removeContainer(id: string): Promise<void>;
  /** Writes the container's changes against its image (`chain`, top first) as a layer tar. */
  diffContainer(
    id: string,
    chain: string[],
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void>;
  /** The layer and container IDs present on disk (to find what a crash left behind). */
  listLayers(): Promise<string[]>;
  listContainers(): Promise<string[]>;
}
