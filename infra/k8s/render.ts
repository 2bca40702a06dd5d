/**
 * A small kustomize renderer for the tests (infra/k8s.test.ts), since neither kustomize nor network is
 * available there. It implements only what infra/k8s uses, and throws on anything else rather than
 * rendering it wrongly:
 *
 * - resources: local files (multi-document YAML) and directories holding a kustomization.yaml (recursively)
 * - configMapGenerator / secretGenerator: `literals` only, with `options.disableNameSuffixHash: true`
 *   (hash suffixes would need name-reference rewriting) and optional `options.labels`
 * - patches: `path` or inline `patch`; a YAML list is JSON6902 (add, replace, remove) and needs a `target`;
 *   a mapping is a strategic merge patch, applied to `target` or else to the object with the patch's kind
 *   and name. Strategic merge knows the merge keys of containers, initContainers, env, volumes and
 *   volumeMounts; other lists are refused. `target` supports kind, name (exact match), group, version.
 * - labels: `pairs` with `includeTemplates` (not `includeSelectors`, not `fields`)
 * - replicas, images (newName, newTag, digest)
 *
 * Transformers run in kustomize's order: patches, labels, replicas, images. It is stricter than kustomize in
 * one way: a patch or replicas entry that matches nothing is an error.
 *
 * Preview an overlay: pnpm exec tsx infra/k8s/render.ts infra/k8s/overlays/local
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseAllDocuments, stringify } from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
};

type Obj = Record<string, unknown>;
type Target = { kind?: string; name?: string; group?: string; version?: string };

export class KustomizeError extends Error {
  override readonly name = "KustomizeError";
}

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const SUPPORTED_FIELDS = new Set([
  "apiVersion",
  "kind",
  "resources",
  "configMapGenerator",
  "secretGenerator",
  "patches",
  "labels",
  "replicas",
  "images",
]);
const SMP_MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
};
const POD_TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);
const SCALABLE_KINDS = new Set(["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"]);

const isMap = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

function fail(where: string, message: string): never {
  throw new KustomizeError(`${where}: ${message}`);
}

function checkKeys(where: string, value: unknown, allowed: string[]): Obj {
  if (!isMap(value)) fail(where, "expected a mapping");
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(where, `"${key}" is not supported by this renderer`);
  }
  return value;
}

/** Parses a YAML stream; empty documents are skipped. */
function parseYaml(file: string, text: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) fail(file, `invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function readText(file: string, what: string): string {
  if (!existsSync(file)) fail(file, `${what} not found`);
  return readFileSync(file, "utf8");
}

function asObject(where: string, value: unknown): K8sObject {
  if (!isMap(value)) fail(where, "a resource must be a mapping");
  const meta = value.metadata;
  if (typeof value.apiVersion !== "string" || !value.apiVersion) fail(where, "resource without apiVersion");
  if (typeof value.kind !== "string" || !value.kind) fail(where, "resource without kind");
  if (!isMap(meta) || typeof meta.name !== "string" || !meta.name) fail(where, `${value.kind} without metadata.name`);
  return value as K8sObject;
}

const idOf = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? "~"}/${o.metadata.name}`;

function loadResource(dir: string, entry: unknown): K8sObject[] {
  if (typeof entry !== "string") fail(dir, "a resources entry must be a string");
  if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith("github.com/"))
    fail(dir, `remote resource "${entry}" is not supported`);
  const path = resolve(dir, entry);
  if (!existsSync(path)) fail(dir, `resource "${entry}" not found (${path})`);
  if (statSync(path).isDirectory()) return renderKustomization(path);
  return parseYaml(path, readFileSync(path, "utf8")).map((doc) => asObject(path, doc));
}

function generate(where: string, entries: unknown, kind: "ConfigMap" | "Secret"): K8sObject[] {
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) fail(where, `${kind} generator must be a list`);
  return entries.map((raw, i) => {
    const at = `${where}: ${kind} generator #${i + 1}`;
    const g = checkKeys(at, raw, ["name", "literals", "options", "behavior"]);
    if (typeof g.name !== "string") fail(at, "needs a name");
    if (g.behavior !== undefined && g.behavior !== "create")
      fail(at, `behavior "${String(g.behavior)}" is not supported`);
    const options = checkKeys(`${at} options`, g.options ?? {}, ["disableNameSuffixHash", "labels"]);
    if (options.disableNameSuffixHash !== true) {
      fail(
        at,
        "set options.disableNameSuffixHash: true (hash suffixes and name-reference rewriting are not supported)",
      );
    }
    const data: Record<string, string> = {};
    for (const literal of (g.literals ?? []) as unknown[]) {
      if (typeof literal !== "string" || !literal.includes("=")) fail(at, `literal must be KEY=VALUE`);
      const eq = literal.indexOf("=");
      data[literal.slice(0, eq)] = literal.slice(eq + 1);
    }
    const metadata = {
      name: g.name,
      ...(options.labels ? { labels: clone(options.labels as Record<string, string>) } : {}),
    };
    if (kind === "ConfigMap") return { apiVersion: "v1", kind, metadata, data };
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    return { apiVersion: "v1", kind, metadata, type: "Opaque", data: encoded };
  });
}

function matches(o: K8sObject, t: Target): boolean {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  return (
    (t.kind === undefined || t.kind === o.kind) &&
    (t.name === undefined || t.name === o.metadata.name) &&
    (t.group === undefined || t.group === group) &&
    (t.version === undefined || t.version === version)
  );
}

// --- JSON6902 -------------------------------------------------------------------------------------------

function pointer(where: string, path: unknown): string[] {
  if (typeof path !== "string" || !path.startsWith("/")) fail(where, `bad JSON pointer ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function applyJson6902(where: string, doc: unknown, ops: unknown[]): void {
  for (const [i, raw] of ops.entries()) {
    const at = `${where} op #${i + 1}`;
    const op = checkKeys(at, raw, ["op", "path", "value"]);
    const segments = pointer(at, op.path);
    const last = segments.pop()!;
    let parent: unknown = doc;
    for (const s of segments) {
      parent = Array.isArray(parent) ? parent[Number(s)] : isMap(parent) ? parent[s] : undefined;
      if (parent === undefined) fail(at, `path ${String(op.path)} does not exist`);
    }
    if (op.op !== "add" && op.op !== "replace" && op.op !== "remove")
      fail(at, `op "${String(op.op)}" is not supported`);
    if (op.op !== "remove" && !("value" in op)) fail(at, "needs a value");
    if (Array.isArray(parent)) {
      const index = last === "-" && op.op === "add" ? parent.length : Number(last);
      if (
        !Number.isInteger(index) ||
        index < 0 ||
        index > parent.length ||
        (op.op !== "add" && index === parent.length)
      ) {
        fail(at, `no index ${last} in ${String(op.path)}`);
      }
      if (op.op === "add") parent.splice(index, 0, clone(op.value));
      else if (op.op === "replace") parent[index] = clone(op.value);
      else parent.splice(index, 1);
    } else if (isMap(parent)) {
      if (op.op !== "add" && !(last in parent)) fail(at, `path ${String(op.path)} does not exist`);
      if (op.op === "remove") delete parent[last];
      else parent[last] = clone(op.value);
    } else {
      fail(at, `parent of ${String(op.path)} is not a mapping or list`);
    }
  }
}

// --- strategic merge ------------------------------------------------------------------------------------

function strategicMerge(where: string, base: unknown, patch: unknown, field = ""): unknown {
  if (isMap(patch)) {
    const out: Obj = isMap(base) ? { ...base } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith("$")) fail(where, `directive "${key}" is not supported`);
      if (value === null) delete out[key];
      else out[key] = strategicMerge(where, out[key], value, key);
    }
    return out;
  }
  if (Array.isArray(patch)) {
    const key = SMP_MERGE_KEYS[field];
    if (!key) fail(where, `list "${field}": merge semantics unknown to this renderer; use a JSON6902 patch`);
    const out = Array.isArray(base) ? [...base] : [];
    for (const item of patch) {
      if (!isMap(item) || !(key in item)) fail(where, `items of "${field}" need "${key}"`);
      const at = out.findIndex((o) => isMap(o) && o[key] === item[key]);
      if (at >= 0) out[at] = strategicMerge(where, out[at], item, field);
      else out.push(clone(item));
    }
    return out;
  }
  return clone(patch);
}

function applyPatch(dir: string, objects: K8sObject[], raw: unknown, n: number): void {
  const where = `${dir}: patch #${n}`;
  const entry = checkKeys(where, raw, ["path", "patch", "target"]);
  if ((entry.path === undefined) === (entry.patch === undefined)) fail(where, "needs exactly one of path and patch");
  const target =
    entry.target === undefined
      ? undefined
      : (checkKeys(`${where} target`, entry.target, ["kind", "name", "group", "version"]) as Target);
  const source = typeof entry.path === "string" ? resolve(dir, entry.path) : where;
  const text = typeof entry.path === "string" ? readText(source, "patch file") : String(entry.patch);
  const docs = parseYaml(source, text);
  if (docs.length !== 1) fail(source, "a patch must be exactly one YAML document");
  const doc = docs[0];

  if (Array.isArray(doc)) {
    if (!target) fail(source, "a JSON6902 patch needs a target");
    const hits = objects.filter((o) => matches(o, target));
    if (!hits.length) fail(source, `target ${JSON.stringify(target)} matches no resource`);
    for (const o of hits) applyJson6902(`${source} on ${idOf(o)}`, o, doc);
    return;
  }
  if (!isMap(doc)) fail(source, "a patch must be a mapping (strategic merge) or a list (JSON6902)");
  const meta = isMap(doc.metadata) ? doc.metadata : {};
  const selector: Target = target ?? { kind: String(doc.kind), name: String(meta.name) };
  if (!target && (typeof doc.kind !== "string" || typeof meta.name !== "string")) {
    fail(source, "a strategic merge patch without target needs kind and metadata.name");
  }
  const hits = objects.filter((o) => matches(o, selector));
  if (!hits.length) fail(source, `${JSON.stringify(selector)} matches no resource`);
  // Identity fields select; they are not merged.
  const { apiVersion: _a, kind: _k, metadata, ...rest } = doc;
  const { name: _n, ...metaRest } = isMap(metadata) ? metadata : {};
  const body: Obj = Object.keys(metaRest).length ? { ...rest, metadata: metaRest } : rest;
  for (const o of hits) {
    const merged = strategicMerge(`${source} on ${idOf(o)}`, o, body) as K8sObject;
    for (const key of Object.keys(o)) delete (o as Obj)[key];
    Object.assign(o, merged);
  }
}

// --- labels, replicas, images ---------------------------------------------------------------------------

function applyLabels(dir: string, objects: K8sObject[], raw: unknown): void {
  const entry = checkKeys(`${dir}: labels`, raw, ["pairs", "includeTemplates", "includeSelectors"]);
  if (entry.includeSelectors) fail(`${dir}: labels`, "includeSelectors is not supported");
  if (!isMap(entry.pairs)) fail(`${dir}: labels`, "needs pairs");
  const pairs = entry.pairs as Record<string, string>;
  for (const o of objects) {
    o.metadata.labels = { ...o.metadata.labels, ...pairs };
    if (entry.includeTemplates && POD_TEMPLATE_KINDS.has(o.kind)) {
      const template = (o.spec as Obj | undefined)?.template as Obj | undefined;
      if (!template) fail(`${dir}: labels`, `${idOf(o)} has no spec.template`);
      const meta = (template.metadata ??= {}) as Obj;
      meta.labels = { ...(meta.labels as Obj | undefined), ...pairs };
    }
  }
}

function applyReplicas(dir: string, objects: K8sObject[], raw: unknown): void {
  const entry = checkKeys(`${dir}: replicas`, raw, ["name", "count"]);
  if (typeof entry.count !== "number") fail(`${dir}: replicas`, `count for ${String(entry.name)} must be a number`);
  const hits = objects.filter((o) => SCALABLE_KINDS.has(o.kind) && o.metadata.name === entry.name);
  if (!hits.length) fail(`${dir}: replicas`, `no workload named ${String(entry.name)}`);
  for (const o of hits) (o.spec as Obj).replicas = entry.count;
}

/** Splits "registry:5000/a/b:tag@sha256:..." into name, tag and digest. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest, digest] = image.split("@", 2) as [string, string | undefined];
  const colon = rest.lastIndexOf(":");
  const hasTag = colon > rest.lastIndexOf("/");
  return { name: hasTag ? rest.slice(0, colon) : rest, tag: hasTag ? rest.slice(colon + 1) : undefined, digest };
}

function applyImage(dir: string, objects: K8sObject[], raw: unknown): void {
  const entry = checkKeys(`${dir}: images`, raw, ["name", "newName", "newTag", "digest"]);
  const rewrite = (image: string): string => {
    const current = splitImage(image);
    if (current.name !== entry.name) return image;
    const name = typeof entry.newName === "string" ? entry.newName : current.name;
    if (typeof entry.digest === "string") return `${name}@${entry.digest}`;
    if (entry.newTag !== undefined) return `${name}:${String(entry.newTag)}`;
    return `${name}${current.tag ? `:${current.tag}` : ""}${current.digest ? `@${current.digest}` : ""}`;
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isMap(node)) {
      for (const [key, value] of Object.entries(node)) {
        if ((key === "containers" || key === "initContainers") && Array.isArray(value)) {
          for (const c of value) if (isMap(c) && typeof c.image === "string") c.image = rewrite(c.image);
        }
        walk(value);
      }
    }
  };
  objects.forEach(walk);
}

// --- entry point ----------------------------------------------------------------------------------------

/** Renders the kustomization in `dir` to a list of objects, like `kustomize build dir`. */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const file = KUSTOMIZATION_FILES.map((f) => join(root, f)).find((f) => existsSync(f));
  if (!file) fail(root, "no kustomization.yaml");
  const docs = parseYaml(file, readFileSync(file, "utf8"));
  if (docs.length !== 1 || !isMap(docs[0])) fail(file, "expected one mapping");
  const k = docs[0];
  for (const key of Object.keys(k))
    if (!SUPPORTED_FIELDS.has(key)) fail(file, `field "${key}" is not supported by this renderer`);
  const list = (key: string): unknown[] => {
    const v = k[key] ?? [];
    if (!Array.isArray(v)) fail(file, `${key} must be a list`);
    return v;
  };

  const objects = [
    ...list("resources").flatMap((r) => loadResource(root, r)),
    ...generate(file, k.configMapGenerator, "ConfigMap"),
    ...generate(file, k.secretGenerator, "Secret"),
  ];
  const seen = new Set<string>();
  for (const o of objects) {
    if (seen.has(idOf(o))) fail(file, `${idOf(o)} is defined twice`);
    seen.add(idOf(o));
  }
  list("patches").forEach((p, i) => applyPatch(root, objects, p, i + 1));
  for (const l of list("labels")) applyLabels(root, objects, l);
  for (const r of list("replicas")) applyReplicas(root, objects, r);
  for (const i of list("images")) applyImage(root, objects, i);
  return objects;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: tsx infra/k8s/render.ts <kustomization dir>");
    process.exit(2);
  }
  process.stdout.write(
    renderKustomization(dir)
      .map((o) => stringify(o))
      .join("---\n"),
  );
}
