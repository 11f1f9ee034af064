/**
 * The store lock: flock(2) on `<root>/lock`. Shared for reading, exclusive for any change.
 * The kernel drops it when the process dies, so a kill -9 never leaves the store locked.
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { syscallError } from "../errors.ts";
import { addon } from "../native/addon.ts";

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_UN = 8;

export type LockMode = "shared" | "exclusive";

export class StoreLock {
  private fd = -1;
  mode: LockMode | undefined;

  constructor(readonly root: string) {}

  get path(): string {
    return join(this.root, "lock");
  }

  /** Blocks until the lock is held in `mode` (a shared lock may be upgraded this way). */
  acquire(mode: LockMode): void {
    if (this.fd < 0) {
      try {
        this.fd = openSync(this.path, "a+", 0o600);
      } catch (e) {
        throw syscallError(`open store lock ${JSON.stringify(this.path)}`, e);
      }
    }
    try {
      addon().flock(this.fd, mode === "shared" ? LOCK_SH : LOCK_EX);
    } catch (e) {
      throw syscallError(`lock store ${JSON.stringify(this.path)}`, e);
    }
    this.mode = mode;
  }

  release(): void {
    if (this.fd < 0) return;
    try {
      addon().flock(this.fd, LOCK_UN);
    } finally {
      closeSync(this.fd);
      this.fd = -1;
      this.mode = undefined;
    }
  }
}
