// Renders each overlay of infra/k8s (with the small renderer in infra/k8s/render.ts, as there is no kustomize
// binary) and checks what the cluster needs from it: workloads, probes, security, config, topics.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TOPICS } from "@pps/messaging";
import { renderKustomization, splitImage, type K8sObject } from "./k8s/render.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const K8S = join(REPO, "infra/k8s");

const APPS = ["payment-api", "router", "risk-stub", "notifier", "reconciler", "channel-sim"] as const;
const KAFKA_CONSUMERS = ["payment-api", "router", "risk-stub", "notifier", "reconciler"];

/** Each app's port, read from its own env schema (`baseEnvSchema(7100)`), so the manifests can't drift from it. */
const PORTS = Object.fromEntries(
  APPS.map((app) => {
    const src = readFileSync(join(REPO, "apps", app, "src/env.ts"), "utf8");
    const port = /baseEnvSchema\((\d+)\)/.exec(src)?.[1];
    if (!port) throw new Error(`no baseEnvSchema(<port>) in apps/${app}/src/env.ts`);
    return [app, Number(port)];
  }),
) as Record<(typeof APPS)[number], number>;

// Loose shapes for reading rendered manifests.
type Probe = { httpGet?: { path?: string; port?: string | number } };
type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath?: string }; secretKeyRef?: { name?: string; key?: string } };
};
type Container = {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name?: string }; secretRef?: { name?: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  volumes?: { name: string; emptyDir?: object }[];
};
type Workload = K8sObject & {
  spec: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};
type Hpa = K8sObject & {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: { type: string; resource?: { name: string; target: { type: string; averageUtilization?: number } } }[];
  };
};
type Topic = K8sObject & {
  spec: { topicName?: string; partitions: number; replicas: number; config?: Record<string, unknown> };
};

function render(overlay: string) {
  const objects = renderKustomization(join(K8S, "overlays", overlay));
  const all = (kind: string) => objects.filter((o) => o.kind === kind);
  const one = <T extends K8sObject>(kind: string, name: string): T => {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    expect(found, `${kind}/${name} in ${overlay}`).toHaveLength(1);
    return found[0] as T;
  };
  return { objects, all, one };
}

const containerPort = (c: Container, port: string | number | undefined) =>
  typeof port === "number" ? port : c.ports?.find((p) => p.name === port)?.containerPort;

/** Pod-level and container-level securityContext together. */
function expectLockedDown(what: string, pod: PodSpec, c: Container) {
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
  const user = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  expect(nonRoot, `${what} runAsNonRoot`).toBe(true);
  expect(user, `${what} runAsUser`).toBe(1000);
  expect(c.securityContext?.readOnlyRootFilesystem, `${what} readOnlyRootFilesystem`).toBe(true);
  expect(c.securityContext?.allowPrivilegeEscalation, `${what} allowPrivilegeEscalation`).toBe(false);
  expect(c.securityContext?.capabilities?.drop, `${what} capabilities.drop`).toContain("ALL");
  // A read-only root needs a writable /tmp.
  const tmp = c.volumeMounts?.find((m) => m.mountPath === "/tmp");
  expect(tmp, `${what} /tmp mount`).toBeDefined();
  expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, `${what} /tmp is an emptyDir`).toBeDefined();
}

function expectResources(what: string, c: Container) {
  for (const kind of ["requests", "limits"] as const) {
    expect(c.resources?.[kind]?.cpu, `${what} ${kind}.cpu`).toBeDefined();
    expect(c.resources?.[kind]?.memory, `${what} ${kind}.memory`).toBeDefined();
  }
}

const envVar = (c: Container, name: string) => c.env?.find((e) => e.name === name);

describe.each(["local", "production"])("overlay %s", (overlay) => {
  const { objects, all, one } = render(overlay);
  const config = one<K8sObject & { data: Record<string, unknown> }>("ConfigMap", "pps-config");

  it("renders documents that each have apiVersion, kind, metadata.name, the part-of label, and a unique id", () => {
    expect(objects.length).toBeGreaterThan(20);
    const ids = new Set<string>();
    for (const o of objects) {
      expect(typeof o.apiVersion).toBe("string");
      expect(typeof o.kind).toBe("string");
      expect(o.metadata.name).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
      expect(o.metadata.labels?.["app.kubernetes.io/part-of"], `${o.kind}/${o.metadata.name}`).toBe(
        "payment-product-service",
      );
      ids.add(`${o.kind}/${o.metadata.name}`);
    }
    expect(ids.size).toBe(objects.length);
  });

  it("has the shared ConfigMap with string values and HOST 0.0.0.0", () => {
    for (const [key, value] of Object.entries(config.data)) expect(typeof value, `pps-config ${key}`).toBe("string");
    expect(config.data.HOST).toBe("0.0.0.0");
    for (const key of ["LOG_LEVEL", "DB_POOL_MAX", "KAFKA_BROKERS", "KAFKA_TOPIC_PREFIX", "SHUTDOWN_TIMEOUT_MS"]) {
      expect(config.data, key).toHaveProperty(key);
    }
    expect(config.data.KAFKA_BROKERS).toMatch(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/);
  });

  it.each(APPS)(
    "has a Deployment for %s with image, probes, resources, security, config and shutdown budget",
    (app) => {
      const deployment = one<Workload>("Deployment", app);
      const pod = deployment.spec.template.spec;
      expect(deployment.spec.selector?.matchLabels).toBeDefined();
      expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector!.matchLabels!);
      expect(pod.containers).toHaveLength(1);
      const c = pod.containers[0]!;
      const what = `${overlay} ${app}`;

      expect(c.image).toBeTruthy();
      const image = splitImage(c.image!);
      expect(image.name.endsWith(`pps/${app}`), `${what} image ${c.image}`).toBe(true);
      expect(image.tag ?? image.digest, `${what} image is pinned`).toBeTruthy();
      expect(image.tag).not.toBe("latest");

      expect(c.readinessProbe?.httpGet?.path).toBe("/readyz");
      expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
      expect(c.startupProbe?.httpGet).toBeDefined();
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        expect(containerPort(c, probe?.httpGet?.port), `${what} probe port`).toBe(PORTS[app]);
      }
      expect(envVar(c, "PORT")?.value).toBe(String(PORTS[app]));

      expectResources(what, c);
      expectLockedDown(what, pod, c);

      expect(c.envFrom?.some((e) => e.configMapRef?.name === "pps-config")).toBe(true);
      expect(envVar(c, "DATABASE_URL")?.valueFrom?.secretKeyRef).toEqual({ name: "pps-secrets", key: "DATABASE_URL" });
      expect(envVar(c, "INSTANCE_ID")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
      for (const e of c.env ?? []) if ("value" in e) expect(typeof e.value, `${what} env ${e.name}`).toBe("string");

      // The pod must get to finish its graceful shutdown: grace period > preStop + SHUTDOWN_TIMEOUT_MS.
      const preStop = c.lifecycle?.preStop?.exec?.command;
      const preStopSeconds = preStop?.[0] === "sleep" ? Number(preStop[1]) : 0;
      expect(pod.terminationGracePeriodSeconds).toBeDefined();
      expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(
        preStopSeconds * 1000 + Number(config.data.SHUTDOWN_TIMEOUT_MS),
      );
    },
  );

  it.each(APPS)("has a ClusterIP Service for %s on port http", (app) => {
    const service = one<
      K8sObject & {
        spec: {
          type?: string;
          selector: Record<string, string>;
          ports: { name?: string; port: number; targetPort?: string | number }[];
        };
      }
    >("Service", app);
    const deployment = one<Workload>("Deployment", app);
    expect(service.spec.type ?? "ClusterIP").toBe("ClusterIP");
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    const http = service.spec.ports.find((p) => p.name === "http");
    expect(http?.port).toBe(PORTS[app]);
    expect(containerPort(deployment.spec.template.spec.containers[0]!, http?.targetPort)).toBe(PORTS[app]);
  });

  it("has a CPU 70% HorizontalPodAutoscaler for each Kafka consumer, targeting its Deployment, within topic partitions", () => {
    const hpas = all("HorizontalPodAutoscaler") as Hpa[];
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual([...KAFKA_CONSUMERS].sort());
    const partitions = Math.min(...(all("KafkaTopic") as Topic[]).map((t) => t.spec.partitions));
    for (const hpa of hpas) {
      expect(hpa.apiVersion).toBe("autoscaling/v2");
      const ref = hpa.spec.scaleTargetRef;
      expect(ref.kind).toBe("Deployment");
      const deployment = one<Workload>("Deployment", ref.name);
      expect(ref.apiVersion).toBe(deployment.apiVersion);
      expect(hpa.spec.metrics).toContainEqual({
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      });
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      expect(hpa.spec.maxReplicas, `${ref.name}: consumers beyond the partition count idle`).toBeLessThanOrEqual(
        partitions,
      );
      const replicas = deployment.spec.replicas ?? 1;
      expect(replicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
      expect(replicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    }
  });

  it("has a PodDisruptionBudget for payment-api that selects its pods", () => {
    const pdb = one<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(
      "PodDisruptionBudget",
      "payment-api",
    );
    expect(one<Workload>("Deployment", "payment-api").spec.template.metadata.labels).toMatchObject(
      pdb.spec.selector.matchLabels,
    );
  });

  it("has the migration Job", () => {
    const job = one<Workload & { spec: { backoffLimit?: number; ttlSecondsAfterFinished?: number } }>(
      "Job",
      "pps-migrate",
    );
    const pod = job.spec.template.spec;
    const c = pod.containers[0]!;
    expect(splitImage(c.image!).name.endsWith("pps/migrate")).toBe(true);
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(pod.restartPolicy).toBe("Never");
    expect(envVar(c, "DATABASE_URL")?.valueFrom?.secretKeyRef).toEqual({ name: "pps-secrets", key: "DATABASE_URL" });
    expectResources("pps-migrate", c);
    expectLockedDown("pps-migrate", pod, c);
  });

  it("has a Strimzi KafkaTopic for every topic of the messaging catalogue", () => {
    const topics = all("KafkaTopic") as Topic[];
    const prefix = String(config.data.KAFKA_TOPIC_PREFIX ?? "");
    const names = topics.map((t) => t.spec.topicName ?? t.metadata.name);
    for (const { name } of Object.values(TOPICS)) expect(names, name).toContain(`${prefix}${name}`);
    for (const t of topics) {
      expect(t.apiVersion).toBe("kafka.strimzi.io/v1beta2");
      expect(t.metadata.labels?.["strimzi.io/cluster"]).toBe("pps-kafka");
      expect(Number.isInteger(t.spec.partitions) && t.spec.partitions > 0).toBe(true);
      expect(Number.isInteger(t.spec.replicas) && t.spec.replicas > 0).toBe(true);
      expect(Number(t.spec.config?.["min.insync.replicas"] ?? 1)).toBeLessThanOrEqual(t.spec.replicas);
    }
  });

  it("labels exactly the catalogue's restricted topics (personal data) restricted, with a shorter retention than the public ones", () => {
    const topics = all("KafkaTopic") as Topic[];
    const prefix = String(config.data.KAFKA_TOPIC_PREFIX ?? "");
    const labelled = topics
      .filter((t) => t.metadata.labels?.["pps.example.com/data-classification"] === "restricted")
      .map((t) => t.spec.topicName ?? t.metadata.name);
    const restricted = Object.values(TOPICS)
      .filter((t) => t.restricted)
      .map((t) => `${prefix}${t.name}`);
    expect(restricted.length).toBeGreaterThan(0);
    expect(labelled.sort()).toEqual(restricted.sort());
    const retention = (name: string) =>
      Number(topics.find((t) => (t.spec.topicName ?? t.metadata.name) === name)?.spec.config?.["retention.ms"]);
    for (const name of restricted)
      expect(retention(name), name).toBeLessThan(retention(`${prefix}${TOPICS.paymentEvents.name}`));
  });
});

describe("overlay differences", () => {
  it("local: one replica each, dev images pulled IfNotPresent, a generated DATABASE_URL, small topics", () => {
    const { all, one } = render("local");
    for (const app of APPS) expect(one<Workload>("Deployment", app).spec.replicas, app).toBe(1);
    for (const w of [...all("Deployment"), ...all("Job")] as Workload[]) {
      const c = w.spec.template.spec.containers[0]!;
      expect(splitImage(c.image!).tag, w.metadata.name).toBe("dev");
      expect(c.imagePullPolicy, w.metadata.name).toBe("IfNotPresent");
    }
    const secret = one<K8sObject & { data: Record<string, string> }>("Secret", "pps-secrets");
    expect(Buffer.from(secret.data.DATABASE_URL!, "base64").toString()).toMatch(/^postgres:\/\/.+@postgres:5432\//);
    for (const t of all("KafkaTopic") as Topic[]) {
      expect(t.spec.partitions).toBeLessThanOrEqual(3);
      expect(t.spec.replicas).toBe(1);
    }
  });

  it("production: payment-api 3 replicas, others 2, topics 12 partitions x 3 replicas, secret provided externally", () => {
    const { all, one } = render("production");
    for (const app of APPS)
      expect(one<Workload>("Deployment", app).spec.replicas, app).toBe(app === "payment-api" ? 3 : 2);
    expect(one<Hpa>("HorizontalPodAutoscaler", "payment-api").spec.minReplicas).toBe(3);
    for (const t of all("KafkaTopic") as Topic[]) {
      expect(t.spec.partitions, t.metadata.name).toBe(12);
      expect(t.spec.replicas, t.metadata.name).toBe(3);
      expect(Number(t.spec.config?.["min.insync.replicas"])).toBe(2);
    }
    expect(all("Secret")).toEqual([]);
    for (const w of [...all("Deployment"), ...all("Job")] as Workload[]) {
      expect(splitImage(w.spec.template.spec.containers[0]!.image!).tag).not.toBe("dev");
    }
  });
});

describe("docs", () => {
  it("infra/k8s/README.md gives each app's image build command with its port", () => {
    const readme = readFileSync(join(K8S, "README.md"), "utf8");
    for (const app of APPS) {
      expect(readme).toContain(
        `docker build -f infra/docker/app.Dockerfile --build-arg APP=${app} --build-arg PORT=${PORTS[app]} -t pps/${app}`,
      );
    }
  });
});

describe("renderer", () => {
  const withKustomization = (files: Record<string, string>, fn: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), "pps-kustomize-"));
    try {
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(dir, name, ".."), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  A: a\n";

  it("fails loudly on a resource path that does not exist", () => {
    withKustomization(
      { "kustomization.yaml": "resources:\n  - present.yaml\n  - missing.yaml\n", "present.yaml": configMap },
      (dir) => {
        expect(() => renderKustomization(dir)).toThrow(/resource "missing\.yaml" not found/);
      },
    );
  });

  it("fails on a directory without a kustomization, an unsupported field, and a patch that matches nothing", () => {
    withKustomization({ "kustomization.yaml": "resources:\n  - sub\n", "sub/x.yaml": configMap }, (dir) => {
      expect(() => renderKustomization(dir)).toThrow(/no kustomization\.yaml/);
    });
    withKustomization(
      { "kustomization.yaml": "namePrefix: x-\nresources:\n  - c.yaml\n", "c.yaml": configMap },
      (dir) => {
        expect(() => renderKustomization(dir)).toThrow(/"namePrefix" is not supported/);
      },
    );
    withKustomization(
      {
        "kustomization.yaml":
          "resources:\n  - c.yaml\npatches:\n  - patch: |-\n      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: other\n",
        "c.yaml": configMap,
      },
      (dir) => expect(() => renderKustomization(dir)).toThrow(/matches no resource/),
    );
  });

  it("applies strategic merge, JSON6902, labels, replicas and images as kustomize does", () => {
    const deployment = [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: { name: d }",
      "spec:",
      "  replicas: 1",
      "  template:",
      "    metadata: { labels: { app: d } }",
      "    spec:",
      "      containers:",
      "        - { name: a, image: 'reg:5000/x/a:1', env: [{ name: K, value: v }] }",
      "        - { name: b, image: x/b }",
    ].join("\n");
    const kustomization = [
      "resources: [d.yaml, c.yaml]",
      "labels: [{ pairs: { team: t }, includeTemplates: true }]",
      "replicas: [{ name: d, count: 4 }]",
      "images: [{ name: 'reg:5000/x/a', newTag: '2' }, { name: x/b, newName: y/b, digest: 'sha256:00' }]",
      "patches:",
      "  - patch: |-",
      "      { apiVersion: apps/v1, kind: Deployment, metadata: { name: d }, spec: { template: { spec: { containers: [{ name: a, env: [{ name: L, value: w }] }] } } } }",
      "  - target: { kind: ConfigMap }",
      "    patch: |-",
      "      [{ op: add, path: /data/B, value: b }, { op: remove, path: /data/A }]",
    ].join("\n");
    withKustomization({ "kustomization.yaml": kustomization, "d.yaml": deployment, "c.yaml": configMap }, (dir) => {
      const [d, c] = renderKustomization(dir) as [Workload, K8sObject & { data: object }];
      expect(d.spec.replicas).toBe(4);
      expect(d.metadata.labels).toEqual({ team: "t" });
      expect(d.spec.template.metadata.labels).toEqual({ app: "d", team: "t" });
      const [a, b] = d.spec.template.spec.containers;
      expect(a?.image).toBe("reg:5000/x/a:2");
      expect(a?.env).toEqual([
        { name: "K", value: "v" },
        { name: "L", value: "w" },
      ]);
      expect(b?.image).toBe("y/b@sha256:00");
      expect(c.data).toEqual({ B: "b" });
    });
  });
});
