/**
 * Run by crash.test.ts and killed with SIGKILL at a random moment: imports, creates, commits
 * and removes without pause, so that the kill lands inside some operation.
 * argv: ROOT DRIVER BASE_TAR CHILD_TAR
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DriverName } from "../../../src/storage/index.ts";
import { LayerStore } from "../../../src/storage/index.ts";
import { readChunks } from "./helpers.ts";

const [root, driver, baseTar, childTar] = process.argv.slice(2) as [
  string,
  DriverName,
  string,
  string,
];
const store = await LayerStore.open({ root, driver });
process.stdout.write("ready\n");
for (let i = 0; ; i++) {
  const base = await store.importLayer(readChunks(baseTar));
  const child = await store.importLayer(readChunks(childTar), base.layer.id);
  const name = `w${process.pid}-${i}`;
  const c = await store.createContainer(name, child.layer.id);
  writeFileSync(join(c.path, `file-${i}`), `${i}\n`);
  const committed = await store.commit(name);
  await store.remove(name);
  await store.remove(committed.layer.id);
  if (i % 2 === 1) {
    await store.remove(child.layer.id);
    await store.remove(base.layer.id);
    await store.prune();
  }
}
