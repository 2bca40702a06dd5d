import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Env } from "hono";

const SCALAR_ASSET = "/docs/scalar.js";

/**
 * Where the Scalar reference's browser bundle is: beside a bundled app (scripts/build-app.mjs copies it), or
 * in node_modules when running from source. Served by the app itself, so /docs works with no internet.
 */
async function loadScalarBundle(): Promise<Buffer> {
  const candidates = [join(dirname(process.argv[1] ?? "."), "scalar-standalone.js")];
  try {
    const require = createRequire(import.meta.url);
    candidates.push(join(dirname(require.resolve("@scalar/api-reference")), "browser", "standalone.js"));
  } catch {
    // not installed beside us: only the bundled copy can serve
  }
  for (const path of candidates) {
    try {
      return await readFile(path);
    } catch {
      // try the next place
    }
  }
  throw new Error("the Scalar API reference bundle was not found");
}

export type ApiDocsOptions = {
  /** The document's fixed parts (openapi version, info, tags); the paths come from the app's routes. */
  document: {
    openapi: "3.1.0";
    info: { title: string; version: string; description?: string };
    tags?: readonly { name: string; description?: string }[];
  };
  securitySchemes?: Record<string, Record<string, unknown>>;
  /** Extra top-level fields (`x-…`). */
  extensions?: Record<string, unknown>;
};

/**
 * Serves the app's OpenAPI 3.1 document at /openapi.json, generated from the routes registered with
 * `app.openapi()`, and a Scalar API reference at /docs whose assets come from the app itself.
 */
export function serveApiDocs<E extends Env>(
  app: OpenAPIHono<E>,
  opts: ApiDocsOptions,
): { document: () => Record<string, unknown> } {
  for (const [name, scheme] of Object.entries(opts.securitySchemes ?? {})) {
    app.openAPIRegistry.registerComponent("securitySchemes", name, scheme as never);
  }
  let cached: Record<string, unknown> | undefined;
  const document = () => {
    cached ??= {
      ...app.getOpenAPI31Document({
        ...opts.document,
        tags: opts.document.tags ? [...opts.document.tags] : undefined,
      } as never),
      ...opts.extensions,
    } as Record<string, unknown>;
    return cached;
  };
  let bundle: Promise<Buffer> | undefined;
  app.get("/openapi.json", (c) => c.json(document()));
  app.get(SCALAR_ASSET, async (c) => {
    bundle ??= loadScalarBundle();
    c.header("cache-control", "public, max-age=86400");
    return c.body(new Uint8Array(await bundle), 200, { "content-type": "application/javascript; charset=utf-8" });
  });
  app.get(
    "/docs",
    Scalar({
      url: "/openapi.json",
      cdn: SCALAR_ASSET,
      pageTitle: opts.document.info.title,
      // No calls home and no hosted extras: the reference must work on a machine with no internet.
      telemetry: false,
      withDefaultFonts: false,
      hideClientButton: true,
      showDeveloperTools: "never",
      showToolbar: "never",
      agent: { disabled: true },
      mcp: { disabled: true },
      defaultOpenAllTags: true,
      showOperationId: true,
    } as never),
  );
  return { document };
}
