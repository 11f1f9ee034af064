// Runs the test suites with Node's built-in runner: `node scripts/test.mjs [unit|kernel|interop|security ...]`.
// Kernel, interop and security tests need root; as another user they are skipped by the tests themselves.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const suites = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const chosen = suites.length > 0 ? suites : ["unit", "kernel", "interop", "security"];

function collect(dir) {
  let out = [];
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const files = chosen.flatMap((s) => collect(join("test", s)));
if (files.length === 0) {
  console.error(`no test files in ${chosen.join(", ")}`);
  process.exit(1);
}
// Kernel and interop tests run the bundled CLI: make sure it matches the sources.
if (chosen.some((s) => s !== "unit")) {
  const built = spawnSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
const extra = process.argv.slice(2).filter((a) => a.startsWith("-"));
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--import",
    "./test/helpers/setup.ts",
    "--test",
    "--test-concurrency=1",
    ...extra,
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
