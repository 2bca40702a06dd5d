import { readdirSync, readFileSync } from "node:fs";

/** CPU seconds (user + system) used so far by processes, from /proc (Linux), for the benchmarks' figures. */
export function cpuSeconds(pids: number[]): number {
  const ticks = pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return sum + Number(fields[11]) + Number(fields[12]);
    } catch {
      return sum;
    }
  }, 0);
  return ticks / 100; // USER_HZ
}

/** The processes whose command line matches (arguments joined by spaces), e.g. /^postgres/ for every backend. */
export function pidsOf(pattern: RegExp): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return pattern.test(readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " "));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function appPid(app: string): number | null {
  try {
    return Number(readFileSync(`.var/pids/${app}.pid`, "utf8").trim());
  } catch {
    return null;
  }
}

/**
 * CPU seconds so far of every app of the running platform (from the pid files platform.sh writes), Postgres
 * (all backends), the Kafka broker and this process: subtract two snapshots for what a phase cost.
 */
export function platformCpuSnapshot(apps: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const app of apps) {
    const pid = appPid(app);
    if (pid) out[app] = cpuSeconds([pid]);
  }
  out.postgres = cpuSeconds(pidsOf(/^postgres/));
  out.kafka = cpuSeconds(pidsOf(/kafka\.Kafka/));
  out["bench client"] = cpuSeconds([process.pid]);
  return out;
}

/** CPU milliseconds per operation between two snapshots, summed over every process, and the share of each. */
export function cpuPerOperation(before: Record<string, number>, after: Record<string, number>, operations: number) {
  const by = Object.fromEntries(
    Object.keys(after).map((k) => [k, ((after[k]! - (before[k] ?? 0)) * 1000) / Math.max(1, operations)]),
  );
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  return { total, by };
}
