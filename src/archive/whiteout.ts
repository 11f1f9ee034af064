/**
 * OCI layer whiteouts (image-spec layer.md): `.wh.NAME` hides NAME of the lower layers, and
 * `.wh..wh..opq` in a directory hides everything the lower layers have there. overlayfs
 * spells the same as a 0:0 character device and an `opaque` xattr.
 */
export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";

export type Whiteout = { kind: "opaque" } | { kind: "file"; name: Buffer } | undefined;

/** What a path's last component says, if it is a whiteout. */
export function whiteoutOf(base: Buffer): Whiteout {
  if (base.length < 4 || base.toString("latin1", 0, 4) !== WHITEOUT_PREFIX) return undefined;
  if (base.toString("latin1") === OPAQUE_MARKER) return { kind: "opaque" };
  const name = base.subarray(4);
  return name.length > 0 ? { kind: "file", name } : undefined;
}

/** The xattr overlayfs reads for opaque directories: trusted.* as root, user.* when rootless. */
export function overlayOpaqueXattr(rootless: boolean): string {
  return rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";
}

/** True for overlayfs's own xattrs, which never go into a layer tar. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.");
}
