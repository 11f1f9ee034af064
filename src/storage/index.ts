/** hood's containers/storage: the layer store and its copy-on-write drivers. */
export type { Driver, DriverContext, DriverName } from "./driver.ts";
export { DRIVER_NAMES } from "./driver.ts";
export { chainId, chainIds, layerIdOf } from "./ids.ts";
export type { ContainerRecord, LayerRecord, StoreMetadata } from "./metadata.ts";
export { detectDriver, driverForFilesystem } from "./select-driver.ts";
export {
  type ContainerInfo,
  DEFAULT_STORAGE_ROOT,
  type ImportResult,
  LayerStore,
  type PruneResult,
  type RemoveResult,
  type StoreOptions,
} from "./store.ts";
export { diffTrees } from "./tree-diff.ts";
