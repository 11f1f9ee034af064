// Bundles the CLI into one CommonJS file, dist/hood.cjs. CommonJS because Node starts a CJS
// entry without initialising its ESM loader, and because esbuild wraps each lazily imported
// module in an init function: a verb's modules, and the node: built-ins they use (zlib,
// child_process, crypto), are loaded only when that verb runs.
import { rmSync } from "node:fs";
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

// The V8 code caches bin/hood keeps belong to the old bundle (V8 would reject them anyway).
rmSync("dist/cache", { recursive: true, force: true });
