import { createServer, Socket } from "node:net";

export type TcpProxyOptions = {
  target: { host?: string; port: number };
  /** Where the proxy listens; port 0 (the default) takes a free one. */
  listen?: { host?: string; port?: number };
};

/**
 * How a paused proxy treats connections: `refuse` resets each new one at once (a server that is down),
 * `blackhole` accepts it and forwards nothing either way (a network partition: the client waits for its own
 * timeouts).
 */
export type PauseMode = "refuse" | "blackhole";

export type TcpProxy = {
  host: string;
  port: number;
  /** Connections being forwarded now. */
  readonly connections: number;
  /**
   * Breaks every forwarded connection at once, as a server restart does; new ones go through again. `reset`
   * (the default) sends both sides a TCP RST; otherwise a FIN (an orderly close the client did not ask for).
   * Returns how many connections were cut.
   */
  cutAll: (opts?: { reset?: boolean }) => number;
  /** Cuts every connection and keeps the target unreachable until `resume`. */
  pause: (mode?: PauseMode) => void;
  resume: () => void;
  close: () => Promise<void>;
};

function kill(socket: Socket, reset: boolean): void {
  if (reset && !socket.destroyed && typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else if (reset) socket.destroy();
  else socket.end(() => socket.destroy());
}

/**
 * A TCP proxy for fault tests: put it between an app and a dependency (Postgres, a Kafka broker) and break
 * the connections under load without touching the dependency itself, which other processes share.
 */
export async function tcpProxy({ target, listen = {} }: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = target.host ?? "127.0.0.1";
  const pairs = new Set<{ client: Socket; upstream: Socket | null }>();
  const held = new Set<Socket>();
  let paused: PauseMode | null = null;

  const server = createServer((client) => {
    client.on("error", () => {});
    if (paused === "refuse") return kill(client, true);
    if (paused === "blackhole") {
      held.add(client);
      client.on("close", () => held.delete(client));
      client.resume(); // read and drop whatever the client sends
      return;
    }
    const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
    pairs.add(pair);
    client.pause();
    const upstream = new Socket();
    pair.upstream = upstream;
    upstream.on("error", () => {});
    upstream.connect(target.port, targetHost, () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    const drop = () => {
      if (!pairs.delete(pair)) return;
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on("close", drop);
    upstream.on("close", drop);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port ?? 0, listen.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("tcpProxy: no TCP address");

  const cutAll = ({ reset = true } = {}) => {
    const cut = pairs.size;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      kill(pair.client, reset);
      if (pair.upstream) kill(pair.upstream, reset);
    }
    return cut;
  };

  return {
    host: address.address,
    port: address.port,
    get connections() {
      return pairs.size;
    },
    cutAll,
    pause(mode = "refuse") {
      paused = mode;
      cutAll();
    },
    resume() {
      paused = null;
      for (const socket of held) socket.destroy();
      held.clear();
    },
    async close() {
      paused = "refuse";
      cutAll();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
