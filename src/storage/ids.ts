/** Layer and container identifiers: chain IDs from diffIDs, random IDs, name checks. */
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { HoodError, syscallError } from "../errors.ts";

// node:crypto is loaded only for chain IDs (imports): loading it brings the whole stream
// stack (about 5 ms), which creating or removing a container does not otherwise need.
function sha256Hex(text: string): string {
  const { createHash } = createRequire(import.meta.url)(
    "node:crypto",
  ) as typeof import("node:crypto");
  return createHash("sha256").update(text).digest("hex");
}

/** `n` random bytes from the kernel's CSPRNG (what crypto.randomBytes reads too). */
function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  let fd: number;
  try {
    fd = openSync("/dev/urandom", "r");
  } catch (e) {
    throw syscallError('open "/dev/urandom"', e);
  }
  try {
    for (let off = 0; off < n; ) {
      const got = readSync(fd, b, off, n - off, null);
      if (got <= 0) throw new HoodError('read "/dev/urandom": end of file', "EIO");
      off += got;
    }
  } catch (e) {
    if (e instanceof HoodError) throw e;
    throw syscallError('read "/dev/urandom"', e);
  } finally {
    closeSync(fd);
  }
  return b;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX_ID = /^[0-9a-f]{64}$/;
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * The OCI chain ID of a layer: its diffID for a base layer, else
 * sha256(parent chain ID + " " + diffID). Both sides carry the "sha256:" prefix.
 */
export function chainId(parentChainId: string | undefined, diffId: string): string {
  if (!DIGEST.test(diffId)) throw new HoodError(`chain id: bad diffID ${JSON.stringify(diffId)}`);
  if (parentChainId === undefined) return diffId;
  if (!DIGEST.test(parentChainId)) {
    throw new HoodError(`chain id: bad parent chain id ${JSON.stringify(parentChainId)}`);
  }
  return `sha256:${sha256Hex(`${parentChainId} ${diffId}`)}`;
}

/** The chain IDs of a list of diffIDs, base layer first. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(chainId(out[out.length - 1], d));
  return out;
}

/** A layer's store ID: its chain ID without the "sha256:" prefix (as containers/storage does). */
export function layerIdOf(chain: string): string {
  return chain.slice("sha256:".length);
}

export function isLayerId(id: string): boolean {
  return HEX_ID.test(id);
}

/** A random 64-hex ID (containers) or a temporary layer name. */
export function randomId(): string {
  return randomBytes(32).toString("hex");
}

/** Names of layers being created: never a valid layer ID, so they cannot be confused. */
export function tempLayerId(): string {
  return `tmp-${randomBytes(8).toString("hex")}`;
}

export function isTempId(id: string): boolean {
  return /^tmp-[0-9a-f]{16}$/.test(id);
}

/** Container names: podman's rule (a letter or digit, then letters, digits, `_.-`). */
export function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new HoodError(
      `container name ${JSON.stringify(name)}: want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters`,
      "INVALID_NAME",
    );
  }
}
