/**
 * The store's metadata: one JSON file, `<root>/store.json`, replaced atomically (write a temp
 * file, fsync it, rename it over, fsync the directory), so a reader sees the old or the new
 * version and never a torn one. Work that spans several steps on disk is announced first in
 * `pending`, so that a store interrupted mid-way knows exactly what to finish or undo.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { HoodError, syscallError } from "../errors.ts";
import type { DriverName } from "./driver.ts";

export interface LayerRecord {
  /** The chain ID without "sha256:". */
  id: string;
  parent?: string;
  /** sha256 of the layer's tar (the OCI diffID). */
  diffId: string;
  /** sha256 of the bytes as imported (gzip or zstd or plain). */
  compressedDigest: string;
  compression: "none" | "gzip" | "zstd";
  /** Bytes of the uncompressed tar. */
  size: number;
  entries: number;
  created: string;
  /** How many times the layer was imported and not removed. */
  refs: number;
}

export interface ContainerRecord {
  id: string;
  name: string;
  layer: string;
  created: string;
}

/** A multi-step operation in progress, written before its first step. */
export type PendingOp =
  | { op: "create-layer"; id: string; pid: number; target?: string }
  | { op: "remove-layer"; id: string; pid: number }
  | { op: "create-container"; id: string; pid: number }
  | { op: "remove-container"; id: string; pid: number };

export interface StoreMetadata {
  version: 1;
  driver: DriverName;
  layers: Record<string, LayerRecord>;
  containers: Record<string, ContainerRecord>;
  pending: PendingOp[];
}

export const METADATA_FILE = "store.json";

export function emptyMetadata(driver: DriverName): StoreMetadata {
  return { version: 1, driver, layers: {}, containers: {}, pending: [] };
}

/** Reads `<root>/store.json`; null when the store is new. */
export function readMetadata(root: string): StoreMetadata | null {
  const path = join(root, METADATA_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw syscallError(`read store metadata ${JSON.stringify(path)}`, e);
  }
  let m: StoreMetadata;
  try {
    m = JSON.parse(text) as StoreMetadata;
  } catch (e) {
    throw new HoodError(
      `read store metadata ${JSON.stringify(path)}: not valid JSON (${(e as Error).message})`,
      "STORE_CORRUPT",
    );
  }
  if (m?.version !== 1 || typeof m.layers !== "object" || typeof m.containers !== "object") {
    throw new HoodError(
      `read store metadata ${JSON.stringify(path)}: unknown format (version ${JSON.stringify(m?.version)})`,
      "STORE_CORRUPT",
    );
  }
  m.pending ??= [];
  return m;
}

/**
 * How much of a replacement survives a power loss. `true`: the new contents (the temp file is
 * fsynced before the rename, the directory after it). `"contents"`: the old or the new
 * contents, each whole (the temp file is fsynced, the rename is not made durable): for a
 * change whose loss the store repairs by itself. `false`: no fsync; after a power loss the
 * file may even be empty, so only for what the store can do without.
 */
export type Durability = boolean | "contents";

/**
 * Replaces a file atomically (temp + rename): a reader, or a process after a kill -9, sees the
 * old or the new contents. `durable` says what a power loss may take (see Durability).
 */
export function writeFileAtomic(
  dir: string,
  name: string,
  data: string | Buffer,
  durable: Durability = true,
): void {
  const tmp = join(dir, `.${name}.tmp-${process.pid}`);
  const path = join(dir, name);
  try {
    const fd = openSync(tmp, "w", 0o600);
    try {
      const buf = typeof data === "string" ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
      if (durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (durable === true) syncDir(dir);
  } catch (e) {
    throw syscallError(`write ${JSON.stringify(path)}`, e);
  }
}

/** fsync of a directory: makes a rename or create in it durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `durable: false` is for announcing pending work: after a power loss the announcement may be
 * gone, but so is the work's commit, and what it left on disk has no record: prune removes it.
 */
export function writeMetadata(root: string, m: StoreMetadata, durable: Durability = true): void {
  writeFileAtomic(root, METADATA_FILE, `${JSON.stringify(m, null, 1)}\n`, durable);
}
