import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  chainId,
  chainIds,
  checkName,
  isLayerId,
  isTempId,
  layerIdOf,
  tempLayerId,
} from "../../../src/storage/ids.ts";

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe("chain ids", () => {
  it("gives a base layer its diffID", () => {
    assert.equal(chainId(undefined, d("a")), d("a"));
  });

  it("hashes the parent chain id, a space and the diffID (OCI image spec)", () => {
    const want = `sha256:${createHash("sha256")
      .update(`${d("a")} ${d("b")}`)
      .digest("hex")}`;
    assert.equal(chainId(d("a"), d("b")), want);
    assert.deepEqual(chainIds([d("a"), d("b"), d("c")]), [d("a"), want, chainId(want, d("c"))]);
  });

  it("depends on the order of the layers", () => {
    assert.notEqual(chainIds([d("a"), d("b")])[1], chainIds([d("b"), d("a")])[1]);
  });

  it("refuses what is not a sha256 digest", () => {
    assert.throws(() => chainId(undefined, "sha256:xyz"), /bad diffID/);
    assert.throws(() => chainId("abc", d("a")), /bad parent chain id/);
  });

  it("names layers by the hex of the chain id, temporary layers never so", () => {
    assert.equal(layerIdOf(d("f")), "f".repeat(64));
    assert.ok(isLayerId("f".repeat(64)));
    const t = tempLayerId();
    assert.ok(isTempId(t));
    assert.ok(!isLayerId(t));
  });

  it("accepts podman's container names only", () => {
    checkName("web-1.a_b");
    for (const bad of ["", "-x", "a/b", "a b", "x".repeat(129), "..", ".x"]) {
      assert.throws(() => checkName(bad), { code: "INVALID_NAME" }, bad);
    }
  });
});
