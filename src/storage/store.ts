/**
 * The layer store: image layers stored once, named by chain ID, with parent links, reference
 * counts and the tar-split metadata that gives each layer's original tar back bit for bit;
 * container root filesystems made copy-on-write on top of them by a driver.
 *
 * Crash safety: every operation runs under the store lock (lock.ts) and changes store.json
 * only by atomic replacement (metadata.ts). Work with several steps on disk is announced in
 * `pending` before its first step and the record is committed after its last, so a process
 * killed at any point leaves either the old state or a pending entry that says exactly what
 * is half done. The next process to take the lock finishes or undoes it (see `repair`): an
 * interrupted import or create is removed, an interrupted removal is completed.
 *
 * Layout of the root: `store.json`, `lock`, `tar-split/<id>.tar-split.gz` (podman's naming
 * and format), `tmp/` (diffs being committed), `<driver>/` (the driver's own files).
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
// extract.ts (tar, zlib, zstd, sha256), tar-split's metadata file (zlib) and assemble are
// imported where a layer is imported or exported: creating or removing a container, the
// common case, loads none of them.
import type { LayerDigests } from "../archive/compression.ts";
import { HoodError, syscallError } from "../errors.ts";
import type { Driver, DriverName } from "./driver.ts";
import {
  chainId,
  checkName,
  isLayerId,
  isTempId,
  layerIdOf,
  randomId,
  tempLayerId,
} from "./ids.ts";
import { StoreLock } from "./lock.ts";
import {
  type ContainerRecord,
  type Durability,
  emptyMetadata,
  type LayerRecord,
  type PendingOp,
  readMetadata,
  type StoreMetadata,
  syncDir,
  writeMetadata,
} from "./metadata.ts";
import { checkDriverName, detectDriver, makeDriver, optionsFor } from "./select-driver.ts";

export const DEFAULT_STORAGE_ROOT = "/var/lib/hood/storage";

export interface StoreOptions {
  root?: string;
  /** The driver for a new store; an existing store must match (it keeps the one it has). */
  driver?: DriverName;
  /** `driver.key=value` options (`--storage-opt`). */
  options?: Record<string, string>;
  warn?: (message: string) => void;
}

export interface ImportResult {
  layer: LayerRecord;
  /** True when the store had the layer already (its reference count went up). */
  existed: boolean;
}

export interface ContainerInfo extends ContainerRecord {
  path: string;
  mounted: boolean;
}

export interface RemoveResult {
  kind: "layer" | "container";
  id: string;
  /** For a layer still needed: why it was kept (its reference count went down). */
  kept?: string;
}

export interface PruneResult {
  layers: string[];
  /** Files and volumes on disk that no record named (what a crash or a bug left). */
  orphans: string[];
}

type Sink = (chunk: Buffer) => void | Promise<void>;

export class LayerStore {
  readonly root: string;
  readonly driver: Driver;
  /** What the last repair found and did (one line each). */
  readonly repairs: string[] = [];
  private readonly lock: StoreLock;
  private readonly warn: (message: string) => void;
  // flock locks belong to an open file: two operations of one process would deadlock on it.
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(root: string, driver: Driver, warn: (m: string) => void) {
    this.root = root;
    this.driver = driver;
    this.warn = warn;
    this.lock = new StoreLock(root);
  }

  /** Opens (or creates) a store; repairs what an interrupted process left half done. */
  static async open(o: StoreOptions = {}): Promise<LayerStore> {
    const root = o.root ?? DEFAULT_STORAGE_ROOT;
    const warn = o.warn ?? (() => {});
    try {
      mkdirSync(join(root, "tar-split"), { recursive: true, mode: 0o700 });
      mkdirSync(join(root, "tmp"), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw syscallError(`open storage root ${JSON.stringify(root)}`, e);
    }
    const existing = readMetadata(root);
    let name: DriverName;
    if (existing) {
      name = checkDriverName(existing.driver);
      if (o.driver && o.driver !== name) {
        throw new HoodError(
          `storage root ${JSON.stringify(root)} uses driver ${name}, not ${o.driver}`,
          "DRIVER_MISMATCH",
        );
      }
    } else {
      name = o.driver ?? detectDriver(root);
    }
    const driver = await makeDriver(name, {
      home: join(root, name),
      options: optionsFor(name, o.options ?? {}),
      warn,
    });
    await driver.init();
    const store = new LayerStore(root, driver, warn);
    // Repairs at open only when something was announced: every operation repairs under its
    // lock anyway, and a lock-and-read for nothing costs every command a round trip.
    if (existing && existing.pending.length > 0) await store.write(async () => {});
    return store;
  }

  private tarSplitPath(id: string): string {
    return join(this.root, "tar-split", `${id}.tar-split.gz`);
  }

  /** Runs `fn` alone in this process, under the store lock, with repaired metadata. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private write<T>(fn: (m: StoreMetadata) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.lock.acquire("exclusive");
      try {
        const m = await this.loadAndRepair();
        return await fn(m);
      } finally {
        this.lock.release();
      }
    });
  }

  private read<T>(fn: (m: StoreMetadata) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.lock.acquire("shared");
      try {
        let m = readMetadata(this.root) ?? emptyMetadata(this.driver.name);
        if (m.pending.length > 0) {
          // Repairs need the exclusive lock; flock converts, then the state is read again.
          this.lock.acquire("exclusive");
          m = await this.loadAndRepair();
        }
        return await fn(m);
      } finally {
        this.lock.release();
      }
    });
  }

  private save(m: StoreMetadata, durable: Durability = true): void {
    writeMetadata(this.root, m, durable);
  }

  private async loadAndRepair(): Promise<StoreMetadata> {
    const m = readMetadata(this.root) ?? emptyMetadata(this.driver.name);
    if (m.pending.length === 0) return m;
    this.repairs.length = 0;
    // The lock is ours: whoever announced these is gone (they held the lock until done).
    for (const p of [...m.pending]) {
      this.repairs.push(await this.undo(m, p));
      m.pending = m.pending.filter((q) => q !== p);
      this.save(m);
    }
    for (const r of this.repairs) this.warn(`storage ${JSON.stringify(this.root)}: ${r}`);
    return m;
  }

  /** Finishes or undoes one interrupted operation; says what it did. */
  private async undo(m: StoreMetadata, p: PendingOp): Promise<string> {
    switch (p.op) {
      case "create-layer": {
        await this.driver.removeLayer(p.id);
        rmSync(this.tarSplitPath(p.id), { force: true });
        if (p.target && !m.layers[p.target]) {
          await this.driver.removeLayer(p.target);
          rmSync(this.tarSplitPath(p.target), { force: true });
        }
        return `removed incomplete layer ${p.target ?? p.id} (import by pid ${p.pid} was interrupted)`;
      }
      case "remove-layer":
        await this.driver.removeLayer(p.id);
        rmSync(this.tarSplitPath(p.id), { force: true });
        delete m.layers[p.id];
        return `finished removing layer ${p.id} (removal by pid ${p.pid} was interrupted)`;
      case "create-container":
        await this.driver.removeContainer(p.id);
        delete m.containers[p.id];
        return `removed incomplete container ${p.id} (creation by pid ${p.pid} was interrupted)`;
      case "remove-container":
        await this.driver.removeContainer(p.id);
        delete m.containers[p.id];
        return `finished removing container ${p.id} (removal by pid ${p.pid} was interrupted)`;
    }
  }

  private begin(m: StoreMetadata, op: PendingOp): PendingOp {
    m.pending.push(op);
    // A removal must be durably announced before files go (or a power loss leaves a record
    // without its files); a creation need not be: without its commit it is only an orphan.
    this.save(m, op.op.startsWith("remove"));
    return op;
  }

  private end(m: StoreMetadata, op: PendingOp): void {
    m.pending = m.pending.filter((p) => p !== op);
    // A removal's commit need not be durable: its announcement is, so if a power loss takes
    // the commit back, the next open finds the announcement and finishes the removal (removals
    // are idempotent). The temp file is still fsynced, so store.json is never torn or empty.
    // A creation's commit is durable: after it the caller is told the object exists.
    this.save(m, op.op.startsWith("remove") ? "contents" : true);
  }

  // ---- look-ups

  /** A layer by ID, "sha256:ID" or a unique ID prefix. */
  resolveLayerIn(m: StoreMetadata, ref: string): LayerRecord {
    const id = ref.startsWith("sha256:") ? ref.slice(7) : ref;
    if (m.layers[id]) return m.layers[id]!;
    const hits = /^[0-9a-f]+$/.test(id)
      ? Object.keys(m.layers).filter((k) => k.startsWith(id))
      : [];
    if (hits.length === 1) return m.layers[hits[0]!]!;
    if (hits.length > 1) {
      throw new HoodError(
        `layer ${JSON.stringify(ref)}: ambiguous, ${hits.length} layers match`,
        "AMBIGUOUS",
      );
    }
    throw new HoodError(`layer ${JSON.stringify(ref)}: no such layer`, "ENOENT");
  }

  private findContainer(m: StoreMetadata, ref: string): ContainerRecord | undefined {
    if (m.containers[ref]) return m.containers[ref];
    const byName = Object.values(m.containers).find((c) => c.name === ref);
    if (byName) return byName;
    const hits = /^[0-9a-f]{3,}$/.test(ref)
      ? Object.keys(m.containers).filter((k) => k.startsWith(ref))
      : [];
    return hits.length === 1 ? m.containers[hits[0]!] : undefined;
  }

  private container(m: StoreMetadata, ref: string): ContainerRecord {
    const c = this.findContainer(m, ref);
    if (!c) throw new HoodError(`container ${JSON.stringify(ref)}: no such container`, "ENOENT");
    return c;
  }

  /** The layer and its ancestors, top first. */
  private chain(m: StoreMetadata, id: string): string[] {
    const out: string[] = [];
    for (
      let l: LayerRecord | undefined = m.layers[id];
      l;
      l = l.parent ? m.layers[l.parent] : undefined
    ) {
      out.push(l.id);
      if (out.length > 10000)
        throw new HoodError(`layer ${id}: parent links form a loop`, "STORE_CORRUPT");
    }
    return out;
  }

  private info(c: ContainerRecord): ContainerInfo {
    return { ...c, path: this.driver.containerPath(c.id), mounted: this.driver.isMounted(c.id) };
  }

  // ---- layers

  /** Imports a layer tar (gzip, zstd or plain) on top of `parent`: extraction, both digests and
   * tar-split in one pass. A layer the store has already gets one more reference. */
  importLayer(source: AsyncIterable<Uint8Array>, parent?: string): Promise<ImportResult> {
    return this.write((m) => this.importLocked(m, source, parent));
  }

  private async importLocked(
    m: StoreMetadata,
    source: AsyncIterable<Uint8Array>,
    parentRef: string | undefined,
  ): Promise<ImportResult> {
    const parent = parentRef === undefined ? undefined : this.resolveLayerIn(m, parentRef).id;
    const tmp = tempLayerId();
    const op = this.begin(m, { op: "create-layer", id: tmp, pid: process.pid });
    let digests: LayerDigests | undefined;
    let entries = 0;
    try {
      const [{ extractLayer }, { MetadataWriter }] = await Promise.all([
        import("../archive/extract.ts"),
        import("../archive/tar-split/metadata-file.ts"),
      ]);
      await this.driver.createLayer(tmp, parent, async (dir) => {
        const path = this.tarSplitPath(tmp);
        const meta = new MetadataWriter(path);
        try {
          const r = await extractLayer(source, dir, {
            whiteouts: this.driver.whiteouts,
            rootless: (this.driver as { rootless?: boolean }).rootless ?? false,
            split: (t) => meta.write(t),
            onWarning: this.warn,
          });
          digests = r.digests;
          entries = r.entries;
        } catch (e) {
          await meta.close().catch(() => {});
          throw e;
        }
        await meta.close();
        fsyncFile(path);
      });
    } catch (e) {
      await this.driver.removeLayer(tmp).catch(() => {});
      rmSync(this.tarSplitPath(tmp), { force: true });
      this.end(m, op);
      throw e;
    }
    const d = digests!;
    const id = layerIdOf(
      chainId(parent === undefined ? undefined : `sha256:${parent}`, d.uncompressed),
    );
    const have = m.layers[id];
    if (have) {
      await this.driver.removeLayer(tmp);
      rmSync(this.tarSplitPath(tmp), { force: true });
      have.refs++;
      this.end(m, op);
      return { layer: have, existed: true };
    }
    if (op.op === "create-layer") op.target = id;
    this.save(m, false);
    await this.driver.renameLayer(tmp, id);
    try {
      renameSync(this.tarSplitPath(tmp), this.tarSplitPath(id));
      syncDir(join(this.root, "tar-split"));
    } catch (e) {
      throw syscallError(`rename tar-split metadata of layer ${id}`, e);
    }
    const layer: LayerRecord = {
      id,
      ...(parent ? { parent } : {}),
      diffId: d.uncompressed,
      compressedDigest: d.compressed,
      compression: d.compression,
      size: d.uncompressedSize,
      entries,
      created: new Date().toISOString(),
      refs: 1,
    };
    m.layers[id] = layer;
    this.end(m, op);
    return { layer, existed: false };
  }

  /** Writes a layer's original tar (rebuilt from its files and tar-split metadata) to `sink`. */
  exportLayer(ref: string, sink: Sink): Promise<LayerRecord> {
    return this.read(async (m) => {
      const layer = this.resolveLayerIn(m, ref);
      const [{ assemble }, { readMetadataFile }] = await Promise.all([
        import("../archive/tar-split/assemble.ts"),
        import("../archive/tar-split/metadata-file.ts"),
      ]);
      await this.driver.withLayerFiles(layer.id, async (dir) => {
        let fd: number;
        try {
          fd = openSync(dir, "r");
        } catch (e) {
          throw syscallError(`export layer ${layer.id}: open its files`, e);
        }
        try {
          await assemble(readMetadataFile(this.tarSplitPath(layer.id)), fd, sink);
        } finally {
          closeSync(fd);
        }
      });
      return layer;
    });
  }

  listLayers(): Promise<LayerRecord[]> {
    return this.read(async (m) => Object.values(m.layers));
  }

  listContainers(): Promise<ContainerInfo[]> {
    return this.read(async (m) => Object.values(m.containers).map((c) => this.info(c)));
  }

  /** A layer or a container, with what refers to it. */
  inspect(ref: string): Promise<
    | { kind: "container"; container: ContainerInfo; chain: string[] }
    | {
        kind: "layer";
        layer: LayerRecord;
        children: string[];
        containers: string[];
        chain: string[];
      }
  > {
    return this.read(async (m) => {
      const c = this.findContainer(m, ref);
      if (c)
        return {
          kind: "container" as const,
          container: this.info(c),
          chain: this.chain(m, c.layer),
        };
      const layer = this.resolveLayerIn(m, ref);
      return {
        kind: "layer" as const,
        layer,
        children: Object.values(m.layers)
          .filter((l) => l.parent === layer.id)
          .map((l) => l.id),
        containers: Object.values(m.containers)
          .filter((x) => x.layer === layer.id)
          .map((x) => x.name),
        chain: this.chain(m, layer.id),
      };
    });
  }

  private usersOf(m: StoreMetadata, id: string): string[] {
    return [
      ...Object.values(m.layers)
        .filter((l) => l.parent === id)
        .map((l) => `layer ${l.id.slice(0, 12)}`),
      ...Object.values(m.containers)
        .filter((c) => c.layer === id)
        .map((c) => `container ${c.name}`),
    ];
  }

  private async deleteLayer(m: StoreMetadata, id: string): Promise<void> {
    const op = this.begin(m, { op: "remove-layer", id, pid: process.pid });
    await this.driver.removeLayer(id);
    rmSync(this.tarSplitPath(id), { force: true });
    delete m.layers[id];
    this.end(m, op);
  }

  // ---- containers

  /**
   * Creates a writable root filesystem named `name` on top of `layerRef`, mounted unless
   * `mount` is false (as `podman create` leaves it: `mount` mounts it later).
   */
  createContainer(
    name: string,
    layerRef: string,
    o: { mount?: boolean } = {},
  ): Promise<ContainerInfo> {
    checkName(name);
    return this.write(async (m) => {
      if (Object.values(m.containers).some((c) => c.name === name)) {
        throw new HoodError(
          `create container ${JSON.stringify(name)}: the name is in use`,
          "EEXIST",
        );
      }
      const layer = this.resolveLayerIn(m, layerRef);
      const id = randomId();
      const op = this.begin(m, { op: "create-container", id, pid: process.pid });
      try {
        await this.driver.createContainer(id, this.chain(m, layer.id), o.mount ?? true);
      } catch (e) {
        await this.driver.removeContainer(id).catch(() => {});
        this.end(m, op);
        throw e;
      }
      const c: ContainerRecord = { id, name, layer: layer.id, created: new Date().toISOString() };
      m.containers[id] = c;
      this.end(m, op);
      return this.info(c);
    });
  }

  mount(ref: string): Promise<ContainerInfo> {
    return this.write(async (m) => {
      const c = this.container(m, ref);
      await this.driver.mountContainer(c.id, this.chain(m, c.layer));
      return this.info(c);
    });
  }

  unmount(ref: string): Promise<ContainerInfo> {
    return this.write(async (m) => {
      const c = this.container(m, ref);
      await this.driver.unmountContainer(c.id);
      return this.info(c);
    });
  }

  /** Writes a container's changes as an OCI layer tar to `sink`. */
  diff(ref: string, sink: Sink): Promise<ContainerRecord> {
    return this.write(async (m) => {
      const c = this.container(m, ref);
      await this.driver.diffContainer(c.id, this.chain(m, c.layer), sink);
      return c;
    });
  }

  /** Turns a container's changes into a new layer on top of its own layer. */
  commit(ref: string): Promise<ImportResult> {
    return this.write(async (m) => {
      const c = this.container(m, ref);
      const file = join(this.root, "tmp", `commit-${randomId().slice(0, 16)}.tar`);
      try {
        const fd = openSync(file, "w", 0o600);
        try {
          await this.driver.diffContainer(c.id, this.chain(m, c.layer), (b) => writeAll(fd, b));
        } finally {
          closeSync(fd);
        }
        const { fileChunks } = await import("../archive/file-source.ts");
        return await this.importLocked(m, fileChunks(file), c.layer);
      } finally {
        rmSync(file, { force: true });
      }
    });
  }

  // ---- removal

  /**
   * Removes a container (by name or ID), or drops one reference to a layer and deletes it
   * when nothing refers to it any more. A layer that still has child layers or containers
   * is kept and `kept` says why; prune deletes it once they are gone.
   */
  remove(ref: string): Promise<RemoveResult> {
    return this.write(async (m) => {
      const c = this.findContainer(m, ref);
      if (c) {
        const op = this.begin(m, { op: "remove-container", id: c.id, pid: process.pid });
        await this.driver.removeContainer(c.id);
        delete m.containers[c.id];
        this.end(m, op);
        return { kind: "container" as const, id: c.id };
      }
      const layer = this.resolveLayerIn(m, ref);
      if (layer.refs > 0) layer.refs--;
      const users = this.usersOf(m, layer.id);
      if (layer.refs > 0 || users.length > 0) {
        this.save(m);
        const why = [
          ...(layer.refs > 0 ? [`${layer.refs} more reference${layer.refs > 1 ? "s" : ""}`] : []),
          ...(users.length > 0 ? [`used by ${users.join(", ")}`] : []),
        ].join("; ");
        return { kind: "layer" as const, id: layer.id, kept: why };
      }
      await this.deleteLayer(m, layer.id);
      return { kind: "layer" as const, id: layer.id };
    });
  }

  /**
   * Garbage collection: deletes every layer with no references left and nothing built on it
   * (repeatedly, so whole unused chains go), and whatever is on disk without a record.
   */
  prune(): Promise<PruneResult> {
    return this.write(async (m) => {
      const removed: string[] = [];
      for (;;) {
        const victim = Object.values(m.layers).find(
          (l) => l.refs <= 0 && this.usersOf(m, l.id).length === 0,
        );
        if (!victim) break;
        await this.deleteLayer(m, victim.id);
        removed.push(victim.id);
      }
      const orphans: string[] = [];
      for (const id of await this.driver.listLayers()) {
        if (m.layers[id]) continue;
        await this.driver.removeLayer(id);
        orphans.push(`${this.driver.name} layer ${id}`);
      }
      for (const id of await this.driver.listContainers()) {
        if (m.containers[id]) continue;
        await this.driver.removeContainer(id);
        orphans.push(`${this.driver.name} container ${id}`);
      }
      for (const f of readdirSync(join(this.root, "tar-split"))) {
        const id = f.replace(/\.tar-split\.gz$/, "");
        if (m.layers[id] && f.endsWith(".tar-split.gz")) continue;
        rmSync(join(this.root, "tar-split", f), { force: true });
        orphans.push(`tar-split/${f}`);
      }
      for (const f of readdirSync(join(this.root, "tmp"))) {
        rmSync(join(this.root, "tmp", f), { recursive: true, force: true });
        orphans.push(`tmp/${f}`);
      }
      for (const f of readdirSync(this.root)) {
        if (/^\.store\.json\.tmp-\d+$/.test(f)) {
          rmSync(join(this.root, f), { force: true });
          orphans.push(f);
        }
      }
      return { layers: removed, orphans };
    });
  }

  /**
   * Checks that every record has its files and nothing on disk lacks a record; returns the
   * problems found (empty when consistent). Read-only.
   */
  check(): Promise<string[]> {
    return this.read(async (m) => {
      const problems: string[] = [];
      const onDisk = new Set(await this.driver.listLayers());
      const split = new Set(readdirSync(join(this.root, "tar-split")));
      for (const l of Object.values(m.layers)) {
        if (!onDisk.has(l.id)) problems.push(`layer ${l.id}: its files are missing`);
        if (!split.has(`${l.id}.tar-split.gz`))
          problems.push(`layer ${l.id}: its tar-split metadata is missing`);
        if (l.parent && !m.layers[l.parent])
          problems.push(`layer ${l.id}: parent ${l.parent} is missing`);
        if (!isLayerId(l.id)) problems.push(`layer ${l.id}: not a chain id`);
      }
      for (const id of onDisk) {
        if (!m.layers[id])
          problems.push(`${isTempId(id) ? "temporary " : ""}layer ${id}: on disk without a record`);
      }
      for (const f of split) {
        const id = f.replace(/\.tar-split\.gz$/, "");
        if (!m.layers[id]) problems.push(`tar-split/${f}: no such layer`);
      }
      const containers = new Set(await this.driver.listContainers());
      for (const c of Object.values(m.containers)) {
        if (!containers.has(c.id))
          problems.push(`container ${c.name}: its root filesystem is missing`);
        if (!m.layers[c.layer]) problems.push(`container ${c.name}: layer ${c.layer} is missing`);
      }
      for (const id of containers) {
        if (!m.containers[id]) problems.push(`container ${id}: on disk without a record`);
      }
      return problems;
    });
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}
