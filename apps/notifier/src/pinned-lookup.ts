import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import type { ResolvedAddress } from "./destination-guard.ts";

/** Connects to exactly the addresses the guard approved, never to a fresh DNS answer. */
export function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const usable =
      options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    if (usable.length === 0) {
      const err: NodeJS.ErrnoException = new Error("no approved address of the requested family");
      err.code = "ENOTFOUND";
      callback(err, "", 4);
      return;
    }
    if (options.all)
      callback(
        null,
        usable.map((a): LookupAddress => ({ address: a.address, family: a.family })),
      );
    else callback(null, usable[0]!.address, usable[0]!.family);
  };
}
