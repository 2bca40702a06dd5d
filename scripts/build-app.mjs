// Bundles an app's entry into one ESM file with every dependency inside, so its container image needs
// only Node and dist/ (no node_modules). Usage: node scripts/build-app.mjs <entry> <outfile>
import { copyFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { build } from "esbuild";

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error("usage: build-app.mjs <entry> <outfile>");
  process.exit(2);
}
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  legalComments: "none",
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __pps_createRequire } from 'node:module'; const require = __pps_createRequire(import.meta.url);",
  },
  logLevel: "warning",
});
// /docs serves the Scalar reference's browser bundle from beside the app (packages/runtime/src/api-docs.ts):
// it is a static asset, not a module esbuild can bundle.
const runtime = createRequire(new URL("../packages/runtime/package.json", import.meta.url));
copyFileSync(
  join(dirname(runtime.resolve("@scalar/api-reference")), "browser", "standalone.js"),
  join(dirname(outfile), "scalar-standalone.js"),
);
console.log(`built ${outfile}`);
