import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Server-side request forgery guard. A notify URL comes from a merchant, so without a check it could make us
 * call our own internal services (Postgres, Kafka, the metadata endpoint at 169.254.169.254, other apps'
 * admin APIs). Every address a host resolves to is classified at delivery time, and the request then
 * connects to exactly the addresses that were checked (see http-delivery.ts), so a DNS answer that changes
 * between the check and the connect (DNS rebinding) cannot slip past.
 */

export type AddressClass = "public" | "private" | "loopback" | "link_local" | "unspecified" | "multicast" | "reserved";

type Range = [network: string, prefix: number, family: "ipv4" | "ipv6", cls: Exclude<AddressClass, "public">];

const RANGES: Range[] = [
  ["0.0.0.0", 8, "ipv4", "unspecified"], // "this network"; 0.0.0.0 reaches the local host on Linux
  ["10.0.0.0", 8, "ipv4", "private"],
  ["100.64.0.0", 10, "ipv4", "private"], // carrier-grade NAT, internal to a provider
  ["127.0.0.0", 8, "ipv4", "loopback"],
  ["169.254.0.0", 16, "ipv4", "link_local"], // includes cloud metadata endpoints
  ["172.16.0.0", 12, "ipv4", "private"],
  ["192.0.0.0", 24, "ipv4", "reserved"],
  ["192.168.0.0", 16, "ipv4", "private"],
  ["198.18.0.0", 15, "ipv4", "reserved"], // benchmarking networks
  ["224.0.0.0", 4, "ipv4", "multicast"],
  ["240.0.0.0", 4, "ipv4", "reserved"], // includes the broadcast address
  ["::", 128, "ipv6", "unspecified"],
  ["::1", 128, "ipv6", "loopback"],
  ["fc00::", 7, "ipv6", "private"], // unique local
  ["fec0::", 10, "ipv6", "private"], // deprecated site-local
  ["fe80::", 10, "ipv6", "link_local"],
  ["ff00::", 8, "ipv6", "multicast"],
];

const BLOCKS = new Map<Exclude<AddressClass, "public">, BlockList>();
for (const [network, prefix, family, cls] of RANGES) {
  const list = BLOCKS.get(cls) ?? new BlockList();
  BLOCKS.set(cls, list);
  list.addSubnet(network, prefix, family);
}

/** The eight 16-bit groups of an IPv6 address (accepts `::` and a trailing dotted quad). */
function ipv6Groups(address: string): number[] | null {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const octets = dotted[1]!.split(".").map(Number);
    text = `${text.slice(0, dotted.index)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail].map((g) =>
    Number.parseInt(g, 16),
  );
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d) is judged
 * by the IPv4 address it reaches.
 */
function embeddedIPv4(address: string): string | null {
  const g = ipv6Groups(address);
  if (!g) return null;
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return null;
  return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
}

/** Which kind of address this is; anything that is not `public` is refused unless allow-listed. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) return "reserved"; // not an address at all: never connect to it
  if (family === 6) {
    const v4 = embeddedIPv4(address);
    if (v4) return classifyAddress(v4);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  for (const [cls, list] of BLOCKS)
    if (list.check(family === 6 ? address.replace(/%.*$/, "") : address, type)) return cls;
  return "public";
}

/** NOTIFY_ALLOWED_HOSTS: hostnames, IP addresses and CIDR ranges that may be called even though private. */
export class AllowList {
  private readonly hostnames = new Set<string>();
  private readonly addresses = new BlockList();
  private empty = true;

  /** Throws with a message naming the bad entry's position (never its text: config errors echo no values). */
  constructor(entries: readonly string[]) {
    for (const [i, raw] of entries.entries()) {
      const entry = raw
        .trim()
        .toLowerCase()
        .replace(/^\[(.*)\]$/, "$1");
      if (!entry) continue;
      this.empty = false;
      const slash = entry.indexOf("/");
      if (slash >= 0) {
        const network = entry.slice(0, slash);
        const prefixText = entry.slice(slash + 1);
        const prefix = Number(prefixText);
        const family = isIP(network);
        if (family === 0 || !/^\d{1,3}$/.test(prefixText) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
          throw new Error(`entry ${i + 1} is not a valid CIDR range`);
        this.addresses.addSubnet(network, prefix, family === 4 ? "ipv4" : "ipv6");
      } else if (isIP(entry)) {
        this.addresses.addAddress(entry, isIP(entry) === 4 ? "ipv4" : "ipv6");
      } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
        this.hostnames.add(entry.replace(/\.$/, ""));
      } else {
        throw new Error(`entry ${i + 1} is not a hostname, IP address or CIDR range`);
      }
    }
  }

  static parse(list: string): AllowList {
    return new AllowList(list.split(","));
  }

  get isEmpty(): boolean {
    return this.empty;
  }

  hasHostname(hostname: string): boolean {
    return this.hostnames.has(hostname.toLowerCase().replace(/\.$/, ""));
  }

  hasAddress(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.addresses.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}

export type ResolvedAddress = { address: string; family: 4 | 6 };

export type Destination =
  | { ok: true; addresses: ResolvedAddress[] }
  | { ok: false; error: "destination_not_allowed" | "dns_failed"; detail: string };

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/**
 * Resolves a URL's host and decides whether we may connect. A host is refused when ANY address it resolves
 * to is not public and not allow-listed: a public name that also answers with an internal address is
 * suspicious, and connecting only to the "good" half would still let the name steer us.
 */
export class DestinationGuard {
  constructor(
    private readonly allow: AllowList,
    private readonly resolver: Resolver = systemResolver,
  ) {}

  /** `hostname` as in `URL.hostname` (IPv6 in brackets is accepted). */
  async check(hostname: string): Promise<Destination> {
    const host = hostname.replace(/^\[(.*)\]$/, "$1");
    const literal = isIP(host);
    let addresses: ResolvedAddress[];
    if (literal) {
      addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await this.resolver(host);
      } catch (err) {
        return {
          ok: false,
          error: "dns_failed",
          detail: `could not resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
        };
      }
      if (addresses.length === 0) return { ok: false, error: "dns_failed", detail: `${host} has no addresses` };
      // An allow-listed name is trusted whatever it resolves to (an operator's own proxy, a test host).
      if (this.allow.hasHostname(host)) return { ok: true, addresses };
    }
    for (const { address } of addresses) {
      const cls = classifyAddress(address);
      if (cls !== "public" && !this.allow.hasAddress(address)) {
        return {
          ok: false,
          error: "destination_not_allowed",
          detail: literal
            ? `${address} is a ${cls.replace("_", "-")} address`
            : `${host} resolves to ${address}, a ${cls.replace("_", "-")} address`,
        };
      }
    }
    return { ok: true, addresses };
  }
}
