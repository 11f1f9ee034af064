/** Layer and container identifiers: chain IDs from diffIDs, random IDs, name checks. */
import { createHash, randomBytes } from "node:crypto";
import { HoodError } from "../errors.ts";

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
  return `sha256:${createHash("sha256").update(`${parentChainId} ${diffId}`).digest("hex")}`;
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
