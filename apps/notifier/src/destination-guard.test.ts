import { describe, expect, it } from "vitest";
import { AllowList, classifyAddress, DestinationGuard, type Resolver } from "./destination-guard.ts";

describe("address classification", () => {
  it.each([
    ["93.184.216.34", "public"],
    ["8.8.8.8", "public"],
    ["2606:4700:4700::1111", "public"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.254", "private"],
    ["172.32.0.1", "public"],
    ["172.15.255.255", "public"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456:789a::1", "private"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["169.254.169.254", "link_local"],
    ["fe80::1", "link_local"],
    ["fe80::1%eth0", "link_local"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["240.0.0.1", "reserved"],
    // IPv6 forms that reach an IPv4 address are judged by that address.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["64:ff9b::169.254.169.254", "link_local"],
    ["64:ff9b::808:808", "public"],
    ["not-an-ip", "reserved"],
  ])("%s is %s", (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });
});

describe("NOTIFY_ALLOWED_HOSTS", () => {
  it("takes hostnames, addresses and CIDR ranges", () => {
    const allow = AllowList.parse("127.0.0.1, merchant-proxy.internal ,10.20.0.0/16,[::1],fd00::/8");
    expect(allow.isEmpty).toBe(false);
    expect(allow.hasAddress("127.0.0.1")).toBe(true);
    expect(allow.hasAddress("127.0.0.2")).toBe(false);
    expect(allow.hasAddress("10.20.30.40")).toBe(true);
    expect(allow.hasAddress("10.21.0.1")).toBe(false);
    expect(allow.hasAddress("::1")).toBe(true);
    expect(allow.hasAddress("fd00::5")).toBe(true);
    expect(allow.hasHostname("Merchant-Proxy.Internal.")).toBe(true);
    expect(allow.hasHostname("other.internal")).toBe(false);
    expect(AllowList.parse("").isEmpty).toBe(true);
  });

  it.each(["10.0.0.0/33", "10.0.0.0/", "300.1.1.1/8", "bad_host!", "a..b"])(
    "refuses %s, naming only its position",
    (entry) => {
      expect(() => AllowList.parse(`127.0.0.1,${entry}`)).toThrow(/^entry 2 /);
      try {
        AllowList.parse(`127.0.0.1,${entry}`);
      } catch (err) {
        expect((err as Error).message).not.toContain(entry);
      }
    },
  );
});

describe("the destination guard", () => {
  const dns: Record<string, string[]> = {
    "shop.example": ["93.184.216.34"],
    "sneaky.example": ["93.184.216.34", "10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    "v6.example": ["::1"],
    "proxy.internal": ["10.9.9.9"],
  };
  const resolver: Resolver = async (host) => {
    const list = dns[host];
    if (!list) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  const guard = new DestinationGuard(AllowList.parse("127.0.0.1,proxy.internal"), resolver);

  it("lets public destinations through with the addresses to connect to", async () => {
    expect(await guard.check("shop.example")).toEqual({
      ok: true,
      addresses: [{ address: "93.184.216.34", family: 4 }],
    });
    expect(await guard.check("93.184.216.34")).toEqual({
      ok: true,
      addresses: [{ address: "93.184.216.34", family: 4 }],
    });
  });

  it("refuses private, loopback and link-local destinations, literal or resolved", async () => {
    expect(await guard.check("10.0.0.1")).toEqual({
      ok: false,
      error: "destination_not_allowed",
      detail: "10.0.0.1 is a private address",
    });
    expect(await guard.check("[::1]")).toMatchObject({ ok: false, error: "destination_not_allowed" });
    expect(await guard.check("metadata.example")).toEqual({
      ok: false,
      error: "destination_not_allowed",
      detail: "metadata.example resolves to 169.254.169.254, a link-local address",
    });
    expect(await guard.check("v6.example")).toMatchObject({ ok: false, error: "destination_not_allowed" });
    // One internal address among public ones is enough to refuse the name.
    expect(await guard.check("sneaky.example")).toMatchObject({ ok: false, error: "destination_not_allowed" });
  });

  it("lets allow-listed addresses and hostnames through", async () => {
    expect(await guard.check("127.0.0.1")).toMatchObject({ ok: true });
    expect(await guard.check("proxy.internal")).toEqual({ ok: true, addresses: [{ address: "10.9.9.9", family: 4 }] });
  });

  it("reports a name that does not resolve as a DNS failure (retried, not refused)", async () => {
    expect(await guard.check("nowhere.example")).toMatchObject({ ok: false, error: "dns_failed" });
  });
});
