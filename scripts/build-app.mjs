// Bundles an app's entry into one ESM file with every dependency inside, so its container image needs
// only Node and dist/ (no node_modules). Usage: node scripts/build-app.mjs <entry> <outfile>
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
  banner: { js: "import { createRequire as __pps_createRequire } from 'node:module'; const require = __pps_createRequire(import.meta.url);" },
  logLevel: "warning",
});
console.log(`built ${outfile}`);
