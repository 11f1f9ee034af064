// Bundles the CLI into one ESM file so that a cold `hood` start loads a single module.
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/hood.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  legalComments: "none",
  // The addon is loaded at run time from build/Release; never inlined.
  external: ["*.node"],
  banner: {
    js: "import { createRequire as __hoodCreateRequire } from 'node:module'; const require = __hoodCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});
