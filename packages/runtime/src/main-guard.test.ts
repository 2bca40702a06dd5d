import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError } from "@pps/config";
import { runMain } from "./main-guard.ts";

/** Runs main under runMain and resolves with what it exited with and wrote. */
function outcome(main: () => Promise<unknown>): Promise<{ codes: number[]; text: string }> {
  return new Promise((resolve) => {
    const codes: number[] = [];
    let text = "";
    runMain(main, {
      write: (t) => {
        text += t;
      },
      exit: (code) => {
        codes.push(code);
        // Any second exit would be recorded before this settles.
        setTimeout(() => resolve({ codes, text }), 10);
      },
    });
  });
}

describe("runMain", () => {
  it("exits 78 on a configuration error, naming the variable", async () => {
    const { codes, text } = await outcome(async () => {
      throw new ConfigError([{ variable: "DATABASE_URL", problem: "is required" }]);
    });
    expect(codes).toEqual([78]);
    expect(text).toBe("invalid configuration: DATABASE_URL: is required\n");
  });

  it("exits 1 on any other failure, with its stack", async () => {
    const { codes, text } = await outcome(async () => {
      throw new Error("listen EADDRINUSE");
    });
    expect(codes).toEqual([1]);
    expect(text).toMatch(/^fatal: Error: listen EADDRINUSE\n\s+at /);
  });

  it("exits 1 on a thrown non-error", async () => {
    const { codes, text } = await outcome(() => Promise.reject("plain"));
    expect(codes).toEqual([1]);
    expect(text).toBe("fatal: plain\n");
  });

  it("prints a failed query without its bound values", async () => {
    // The shape drizzle-orm's DrizzleQueryError has (the logger's tests make real ones against Postgres).
    const failed = Object.assign(new Error("Failed query: select $1::int\nparams: sk_live_secret"), {
      query: "select $1::int",
      params: ["sk_live_secret"],
    });
    const { codes, text } = await outcome(async () => {
      throw failed;
    });
    expect(codes).toEqual([1]);
    expect(text).toContain("Failed query: select $1::int");
    expect(text).not.toContain("sk_live_secret");
  });
});

describe("runMain in a real process", () => {
  const script = (thrown: string) =>
    `import { runMain } from "./main-guard.ts"; import { ConfigError } from "@pps/config"; runMain(async () => { throw ${thrown}; });`;
  const run = (thrown: string) =>
    spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script(thrown)], {
      cwd: fileURLToPath(new URL(".", import.meta.url)),
      encoding: "utf8",
    });

  it("exits the process with 78 and 1", () => {
    const config = run(`new ConfigError([{ variable: "PORT", problem: "is required" }])`);
    expect(config.status).toBe(78);
    expect(config.stderr).toContain("PORT: is required");
    const other = run(`new Error("boom")`);
    expect(other.status).toBe(1);
    expect(other.stderr).toContain("fatal: Error: boom");
  });
});
