import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  escapeOverlayPath,
  LEGACY_OPTIONS_MAX,
  legacyOverlayOptions,
  type OverlayMountSpec,
  overlayFsconfig,
} from "../../../src/storage/drivers/overlay.ts";

const spec = (lowers: string[], o: Partial<OverlayMountSpec> = {}): OverlayMountSpec => ({
  lowers,
  upper: "/s/u",
  work: "/s/w",
  userxattr: false,
  redirectDir: false,
  readonly: false,
  ...o,
});

describe("overlay mount options", () => {
  it("gives each lower layer its own lowerdir+, top first, then upper and work", () => {
    const calls = overlayFsconfig(spec(["/l/top", "/l/mid", "/l/base"]));
    assert.deepEqual(
      calls.filter((c) => c.key === "lowerdir+").map((c) => (c.cmd === "string" ? c.value : "")),
      ["/l/top", "/l/mid", "/l/base"],
    );
    const keys = calls.map((c) => c.key);
    assert.ok(keys.indexOf("upperdir") > keys.lastIndexOf("lowerdir+"));
    assert.deepEqual(
      calls.filter((c) => ["redirect_dir", "metacopy", "index"].includes(c.key)),
      [
        { cmd: "string", key: "redirect_dir", value: "off" },
        { cmd: "string", key: "metacopy", value: "off" },
        { cmd: "string", key: "index", value: "off" },
      ],
    );
  });

  it("sets userxattr as a flag in a user namespace, and nothing upper for a read-only view", () => {
    const calls = overlayFsconfig(spec(["/a", "/b"], { userxattr: true, upper: undefined }));
    assert.ok(calls.some((c) => c.cmd === "flag" && c.key === "userxattr"));
    assert.ok(!calls.some((c) => c.key === "upperdir" || c.key === "workdir"));
  });

  it("refuses a mount without layers", () => {
    assert.throws(() => overlayFsconfig(spec([])), /no lower layer/);
  });

  it("escapes colons, commas and backslashes in mount(2) options", () => {
    assert.equal(escapeOverlayPath("/a:b,c\\d"), "/a\\:b\\,c\\\\d");
    assert.equal(
      legacyOverlayOptions(spec(["/l:1", "/l2"])),
      "lowerdir=/l\\:1:/l2,upperdir=/s/u,workdir=/s/w,redirect_dir=off,metacopy=off,index=off",
    );
  });

  it("accepts 4095 bytes of options and refuses 4096 (the kernel would cut them)", () => {
    const fixed = legacyOverlayOptions(spec(["/"])).length - 1;
    const fits = spec([`/${"x".repeat(LEGACY_OPTIONS_MAX - fixed - 1)}`]);
    assert.equal(legacyOverlayOptions(fits).length, LEGACY_OPTIONS_MAX);
    const over = spec([`/${"x".repeat(LEGACY_OPTIONS_MAX - fixed)}`]);
    assert.throws(() => legacyOverlayOptions(over), {
      code: "OVERLAY_OPTIONS_TOO_LONG",
      message: /4096 bytes, over mount\(2\)'s limit of 4095/,
    });
  });

  it("counts bytes, not characters", () => {
    const fixed = legacyOverlayOptions(spec(["/"])).length - 1;
    const lower = `/${"é".repeat(Math.ceil((LEGACY_OPTIONS_MAX - fixed) / 2))}`;
    assert.ok(lower.length + fixed < LEGACY_OPTIONS_MAX);
    assert.throws(() => legacyOverlayOptions(spec([lower])), { code: "OVERLAY_OPTIONS_TOO_LONG" });
  });
});
