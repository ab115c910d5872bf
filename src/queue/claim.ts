import { sql } from 'kysely';
import type { Store } from '../storage/db.js';
import { dueAt, IN_ORDER, RECEIVER, receiverOf } from './conditions.js';
import type { ClaimedDelivery, DeliveryRow, StoredEvent } from './delivery.js';

export interface ClaimOptions {
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
  /** Receivers that have enough already: their rows stay unclaimed for other receivers' (and workers') sake. */
  excludeReceivers: readonly string[];
  /** Companies that hold their share already: their rows stay unclaimed for other companies' sake. */
  excludeCompanies?: readonly string[];
  /**
   * Rows of one company a claim takes at most (default: all of `limit`): a company with thousands of rows due first
   * cannot fill the claim, and the next claim, leaving it out, reaches the others' rows.
   */
  perCompany?: number;
}

interface Exclusions {
  receivers: string[];
  companies: string[];
  perCompany: number;
}

/**
 * Claims up to `limit` due deliveries (conditions.ts, dueAt; ordered ones only in order, IN_ORDER) in `next_attempt_at` order by writing a lease on them,
 * in one short transaction; nothing is held while sending. Of the first `limit` due rows (receivers and companies
 * left out skipped), at most `perCompany` per company are leased, the earliest; the others stay unclaimed. Returned
 * in due order, each with its event.
 */
export async function claim(store: Store, opts: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (opts.limit <= 0) return [];
  const leaseUntil = opts.now + opts.leaseMs;
  // Lists that are never empty keep one statement text whether or not anything is excluded.
  const ex: Exclusions = {
    receivers: opts.excludeReceivers.length ? [...opts.excludeReceivers] : ['-'],
    companies: opts.excludeCompanies?.length ? [...opts.excludeCompanies] : ['-'],
    perCompany: Math.max(1, Math.min(opts.perCompany ?? opts.limit, opts.limit)),
  };
  return store.profile.queueFunctions
    ? claimOnPostgres(store, opts, leaseUntil, ex)
    : claimOnSqlite(store, opts, leaseUntil, ex);
}

/**
 * SQLite: pick and lease in one transaction (one writer at a time, so nothing else can take the rows in between),
 * then read the events.
 */
async function claimOnSqlite(
  store: Store,
  opts: ClaimOptions,
  leaseUntil: number,
  ex: Exclusions,
): Promise<ClaimedDelivery[]> {
  const { db, profile } = store;
  const claimed = await db.transaction().execute(async (tx) => {
    // Excluded receivers and companies are skipped from the due index alone (it carries both); the window ranks each
    // company's rows among the first `limit`, so the bound per company costs a sort of at most `limit` rows.
    const picked = await sql<{ id: string }>`
      select id from (
        select id, row_number() over (partition by company_id order by next_attempt_at) as rn from (
          select id, company_id, next_attempt_at from deliveries
          where ${dueAt(opts.now)} and ${RECEIVER} not in (${sql.join(ex.receivers)})
            and company_id not in (${sql.join(ex.companies)}) and ${IN_ORDER}
          order by next_attempt_at
          limit ${opts.limit}
        )
      ) where rn <= ${ex.perCompany}`.execute(tx);
    const ids = picked.rows.map((r) => r.id);
    if (ids.length === 0) return [];
    return tx
      .updateTable('deliveries')
      .set({ lease_until: leaseUntil, lease_owner: opts.owner })
      .where(sql<boolean>`id in ${profile.batchValues(ids)}`)
      .returningAll()
      .execute();
  });
  if (claimed.length === 0) return [];
  const events = await db
    .selectFrom('events')
    .select(['id', 'name', 'body', 'created_at'])
    .where(sql<boolean>`id in ${profile.batchValues([...new Set(claimed.map((d) => d.event_id))])}`)
    .execute();
  const byId = new Map(events.map((e) => [e.id, e]));
  return claimed
    .sort((a, b) => (a.next_attempt_at ?? 0) - (b.next_attempt_at ?? 0))
    .map((delivery) => ({
      delivery,
      event: byId.get(delivery.event_id)!,
      receiver: receiverOf(delivery),
      company: delivery.company_id,
    }));
}

/**
 * PostgreSQL: pick, lease and read the events in one call of `claim_due_deliveries` (pg-functions.ts), so a claim
 * costs one round trip instead of five (BEGIN, pick, lease, COMMIT, events); SKIP LOCKED inside keeps concurrent
 * workers on disjoint rows.
 */
async function claimOnPostgres(
  store: Store,
  opts: ClaimOptions,
  leaseUntil: number,
  ex: Exclusions,
): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<{
    delivery: DeliveryRow;
    event_name: string;
    event_body: string | null;
    event_created_at: number;
  }>`
    select delivery, event_name, event_body, event_created_at
    from claim_due_deliveries(${opts.now}, ${opts.limit}, ${leaseUntil}, ${opts.owner}, ${ex.receivers}::text[],
      ${ex.companies}::text[], ${ex.perCompany})`.execute(store.db);
  // Each event's body comes once per claim, on one of its deliveries' rows.
  const events = new Map<string, StoredEvent>();
  for (const { delivery, event_name, event_body, event_created_at } of rows) {
    if (event_body !== null)
      events.set(delivery.event_id, {
        id: delivery.event_id,
        name: event_name,
        body: event_body,
        created_at: Number(event_created_at),
      });
  }
  return rows.map(({ delivery }) => ({
    delivery,
    event: events.get(delivery.event_id)!,
    receiver: receiverOf(delivery),
    company: delivery.company_id,
  }));
}
