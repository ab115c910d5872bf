import { sql } from 'kysely';
import type { Store } from '../storage/db.js';
import { dueAt, RECEIVER, receiverOf } from './conditions.js';
import type { ClaimedDelivery, DeliveryRow, StoredEvent } from './delivery.js';

export interface ClaimOptions {
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
  /** Receivers that have enough already: their rows stay unclaimed for other receivers' (and workers') sake. */
  excludeReceivers: readonly string[];
}

/**
 * Claims up to `limit` due deliveries (conditions.ts, dueAt) in `next_attempt_at` order by writing a lease on them,
 * in one short transaction; nothing is held while sending. Returned in due order, each with its event.
 */
export async function claim(store: Store, opts: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (opts.limit <= 0) return [];
  const leaseUntil = opts.now + opts.leaseMs;
  // A list that is never empty keeps one statement text whether or not anything is excluded.
  const excluded = opts.excludeReceivers.length ? [...opts.excludeReceivers] : ['-'];
  return store.profile.queueFunctions
    ? claimOnPostgres(store, opts, leaseUntil, excluded)
    : claimOnSqlite(store, opts, leaseUntil, excluded);
}

/**
 * SQLite: pick and lease in one transaction (one writer at a time, so nothing else can take the rows in between),
 * then read the events.
 */
async function claimOnSqlite(
  store: Store,
  opts: ClaimOptions,
  leaseUntil: number,
  excluded: string[],
): Promise<ClaimedDelivery[]> {
  const { db, profile } = store;
  const claimed = await db.transaction().execute(async (tx) => {
    const picked = await sql<{ id: string }>`
      select id from deliveries
      where ${dueAt(opts.now)} and ${RECEIVER} not in (${sql.join(excluded)})
      order by next_attempt_at
      limit ${opts.limit}`.execute(tx);
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
    .map((delivery) => ({ delivery, event: byId.get(delivery.event_id)!, receiver: receiverOf(delivery) }));
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
  excluded: string[],
): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<{
    delivery: DeliveryRow;
    event_name: string;
    event_body: string | null;
    event_created_at: number;
  }>`
    select delivery, event_name, event_body, event_created_at
    from claim_due_deliveries(${opts.now}, ${opts.limit}, ${leaseUntil}, ${opts.owner}, ${excluded}::text[])`.execute(
    store.db,
  );
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
  }));
}
