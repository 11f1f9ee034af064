// Bundles the CLI into one CommonJS file, dist/hood.cjs. CommonJS because Node starts a CJS
// entry without initialising its ESM loader, and because esbuild wraps each lazily imported
// module in an init function: a verb's modules, and the node: built-ins they use (zlib,
// child_process, crypto), are loaded only when that verb runs.
import { readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/hood.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: "linked",
  legalComments: "none",
  minifyWhitespace: true,
  minifySyntax: true,
  // The addon and zstd are loaded at run time from node_modules and build/Release.
  external: ["*.node", "zstd-napi"],
  define: { "import.meta.url": "__hoodModuleUrl" },
  banner: { js: 'const __hoodModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
});

// bin/hood reads the bundle as latin1 (no UTF-8 decoding on every start), which is only the
// same text while every byte is ASCII.
const nonAscii = readFileSync("dist/hood.cjs").findIndex((b) => b > 0x7f);
if (nonAscii >= 0) {
  rmSync("dist/hood.cjs");
  throw new Error(`dist/hood.cjs has a non-ASCII byte at ${nonAscii}: write it as an escape`);
}

// The V8 code caches bin/hood keeps belong to the old bundle (V8 would reject them anyway).
rmSync("dist/cache", { recursive: true, force: true });
