import { z } from "zod";
import { BLOCKLIST_KINDS } from "@pps/db/schema";

export { BLOCKLIST_KINDS };
export type BlocklistKind = (typeof BLOCKLIST_KINDS)[number];

/** The blocklist as the rules read it: one set of normalized values per kind. */
export type Blocklist = Readonly<Record<BlocklistKind, ReadonlySet<string>>>;

export const EMPTY_BLOCKLIST: Blocklist = { payer: new Set(), device: new Set(), ip: new Set() };

/**
 * The one spelling a value is stored and matched in. IP addresses compare case-insensitively (IPv6 hex);
 * payer and device ids are opaque and compared exactly.
 */
export function normalizeBlocklistValue(kind: BlocklistKind, value: string): string {
  return kind === "ip" ? value.trim().toLowerCase() : value;
}

export function buildBlocklist(entries: Iterable<{ kind: string; value: string }>): Blocklist {
  const sets: Record<BlocklistKind, Set<string>> = { payer: new Set(), device: new Set(), ip: new Set() };
  for (const e of entries) {
    if (e.kind === "payer" || e.kind === "device" || e.kind === "ip")
      sets[e.kind].add(normalizeBlocklistValue(e.kind, e.value));
  }
  return sets;
}

export const blocklistKindSchema = z.enum(BLOCKLIST_KINDS);

/** A new blocklist entry (POST body). IPs must be literal IPv4 or IPv6 addresses (no ranges). */
export const blocklistEntrySchema = z
  .object({
    kind: blocklistKindSchema,
    value: z.string().min(1).max(256),
    reason: z.string().trim().min(1).max(500),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.kind === "ip" && !z.union([z.ipv4(), z.ipv6()]).safeParse(e.value.trim()).success) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "must be an IPv4 or IPv6 address" });
    }
  });
export type BlocklistEntryInput = z.infer<typeof blocklistEntrySchema>;
