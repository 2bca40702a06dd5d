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
