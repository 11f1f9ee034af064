import assert from "node:assert/strict";
import { test } from "node:test";
import { at } from "../../../src/oci/checker.ts";
import { toInt64, toUint64 } from "../../../src/oci/numbers.ts";
import { sysctlDotted, sysctlPath } from "../../../src/oci/validate.ts";
import { parseSemVer } from "../../../src/oci/version.ts";

test("parseSemVer reads SemVer 2.0.0 and nothing else", () => {
  assert.deepEqual(parseSemVer("1.0.2-dev"), { major: 1, minor: 0, patch: 2, prerelease: "dev" });
  assert.deepEqual(parseSemVer("1.2.0+abc.1"), { major: 1, minor: 2, patch: 0, prerelease: "" });
  assert.deepEqual(parseSemVer("1.1.0-rc.3"), { major: 1, minor: 1, patch: 0, prerelease: "rc.3" });
  for (const bad of [
    "1.0",
    "1",
    "v1.0.0",
    "1.0.0-",
    "1.0.0-01",
    "01.0.0",
    "1.0.0 ",
    "",
    "1.0.0+",
  ]) {
    assert.equal(parseSemVer(bad), undefined, bad);
  }
});

test("JSON paths quote map keys that are not identifiers", () => {
  assert.equal(at("", "process"), "process");
  assert.equal(at("linux.namespaces", 2), "linux.namespaces[2]");
  assert.equal(at("linux.sysctl", "net.ipv4.ip_forward"), 'linux.sysctl["net.ipv4.ip_forward"]');
  assert.equal(at("annotations", 'a"b'), 'annotations["a\\"b"]');
});

test("64-bit limits survive JSON's doubles", () => {
  assert.equal(toUint64(JSON.parse("18446744073709551615")), 2n ** 64n - 1n);
  assert.equal(toUint64(1024), 1024n);
  assert.equal(toInt64(JSON.parse("9223372036854775807")), 2n ** 63n - 1n);
  assert.equal(toInt64(-1), -1n);
});

test("sysctl names are read like sysctl(8): dots, or slashes with dots inside names", () => {
  assert.equal(sysctlDotted("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
  assert.equal(
    sysctlDotted("net/ipv4/conf/eno2.100/rp_filter"),
    "net.ipv4.conf.eno2/100.rp_filter",
  );
  assert.equal(sysctlPath("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
  assert.equal(sysctlPath("net/ipv4/conf/eno2.100/rp_filter"), "net/ipv4/conf/eno2.100/rp_filter");
  assert.equal(sysctlPath("net.ipv4.conf.eno2/100.rp_filter"), "net/ipv4/conf/eno2.100/rp_filter");
  for (const bad of ["net/../kernel/x", "net..x", ".net", "net.", "net/./x", ""]) {
    assert.equal(sysctlPath(bad), undefined, bad);
  }
});
