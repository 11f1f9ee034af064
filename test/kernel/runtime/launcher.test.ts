// bin/hood's start: NODE_EXTRA_CA_CERTS is not parsed but is passed on, and V8 code caches.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { HOOD, ROOT_DIR } from "../../helpers/hood.ts";

const dir = mkdtempSync(join(tmpdir(), "hood-launcher-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function hood(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(HOOD, args, { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
}

describe("the launcher", () => {
  it("keeps Node from reading NODE_EXTRA_CA_CERTS, and gives it back to hood's children", () => {
    // Node warns at start when the file it was told to read is missing: it must not be read.
    const missing = join(dir, "no-such-ca.pem");
    const show = join(dir, "show-env.cjs");
    writeFileSync(
      show,
      'process.on("exit", () => process.stderr.write("CA=" + process.env.NODE_EXTRA_CA_CERTS + "|" + ("HOOD_NODE_EXTRA_CA_CERTS" in process.env) + "\\n"));',
    );
    const r = hood(["--version"], {
      NODE_EXTRA_CA_CERTS: missing,
      NODE_OPTIONS: `--require ${show}`,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /extra certs/i);
    assert.match(r.stderr, new RegExp(`CA=${missing}\\|false`));
  });

  it("leaves the variable unset when it was unset", () => {
    const show = join(dir, "show-unset.cjs");
    writeFileSync(
      show,
      'process.on("exit", () => process.stderr.write("set=" + ("NODE_EXTRA_CA_CERTS" in process.env) + "\\n"));',
    );
    const r = hood(["--version"], { NODE_OPTIONS: `--require ${show}` });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /set=false/);
  });

  it("writes a verb's code cache once and then uses it", () => {
    const cache = join(ROOT_DIR, "dist", "cache", "features.v8");
    rmSync(cache, { force: true });
    assert.equal(hood(["features"], {}).status, 0);
    const first = statSync(cache);
    assert.ok(first.size > 0);
    const r = hood(["features"], {});
    assert.equal(r.status, 0);
    assert.equal(JSON.parse(r.stdout).ociVersionMin !== undefined, true);
    assert.equal(statSync(cache).mtimeMs, first.mtimeMs, "an accepted cache is not rewritten");
  });

  it("starts from a rejected cache and replaces it", () => {
    const cache = join(ROOT_DIR, "dist", "cache", "features.v8");
    writeFileSync(cache, Buffer.alloc(4096, 7));
    const r = hood(["features"], {});
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).ociVersionMin);
    assert.notEqual(statSync(cache).size, 4096);
  });
});
