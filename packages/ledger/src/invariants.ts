import type { Sql } from "postgres";

/**
 * The ledger's invariants, checked over the whole schema: what every ledger test ends with, and what any
 * later suite that moves money can call. Returns one line per violation (empty when the books hold):
 * - every entry has two or more postings, and per currency they sum to zero;
 * - every posting is in its account's currency;
 * - every account shard's balance is the sum of its postings;
 * - no account is below its floor counting what it holds, and what it holds is the sum of its pending holds;
 * - a posted hold's entry exists and moved exactly the posted amount.
 */
export async function ledgerViolations(sql: Sql): Promise<string[]> {
  const out: string[] = [];
  for (const r of await sql<{ entry_id: string; currency: string; total: string }[]>`
    select entry_id, currency, sum(amount) as total from ledger.postings group by entry_id, currency having sum(amount) <> 0`)
    out.push(`entry ${r.entry_id} sums to ${r.total} in ${r.currency}`);
  for (const r of await sql<{ id: string; legs: number }[]>`
    select e.id, count(p.seq)::int as legs from ledger.entries e left join ledger.postings p on p.entry_id = e.id
    group by e.id having count(p.seq) < 2`)
    out.push(`entry ${r.id} has ${r.legs} postings`);
  for (const r of await sql<{ seq: string; currency: string; account: string }[]>`
    select p.seq, p.currency, a.currency as account from ledger.postings p
    join ledger.accounts a on a.id = p.account_id and a.shard = p.shard where a.currency <> p.currency`)
    out.push(`posting ${r.seq} is in ${r.currency}, its account in ${r.account}`);
  for (const r of await sql<{ id: string; shard: number; balance: string; posted: string }[]>`
    select a.id, a.shard, a.balance, coalesce(p.total, 0) as posted from ledger.accounts a
    left join (select account_id, shard, sum(amount) as total from ledger.postings group by account_id, shard) p
      on p.account_id = a.id and p.shard = a.shard
    where a.balance <> coalesce(p.total, 0)`)
    out.push(`account ${r.id} shard ${r.shard} has balance ${r.balance}, its postings sum to ${r.posted}`);
  for (const r of await sql<{ id: string; shard: number; balance: string; held: string; floor: string }[]>`
    select id, shard, balance, held, floor from ledger.accounts where held < 0 or (floor is not null and balance - held < floor)`)
    out.push(
      `account ${r.id} shard ${r.shard} is below its floor: balance ${r.balance}, held ${r.held}, floor ${r.floor}`,
    );
  for (const r of await sql<{ id: string; held: string; pending: string }[]>`
    select a.id, a.held, coalesce(h.total, 0) as pending from ledger.accounts a
    left join (select debit_account_id, sum(amount) as total from ledger.holds where status = 'pending' group by 1) h
      on h.debit_account_id = a.id
    where a.shard = 0 and a.held <> coalesce(h.total, 0)`)
    out.push(`account ${r.id} holds ${r.held}, its pending holds sum to ${r.pending}`);
  for (const r of await sql<{ id: string; posted_amount: string; moved: string | null }[]>`
    select h.id, h.posted_amount, (select sum(p.amount) from ledger.postings p where p.entry_id = h.entry_id and p.amount > 0) as moved
    from ledger.holds h where h.status = 'posted'`)
    if (Number(r.moved ?? 0) !== Number(r.posted_amount))
      out.push(`hold ${r.id} posted ${r.posted_amount}, its entry moved ${r.moved ?? "nothing"}`);
  return out;
}
