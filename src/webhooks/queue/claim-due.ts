import { sql } from 'kysely';

import type { Store } from '../../storage/db.js';
import type { DeliveryRow, PreparedBatch, StoredEvent } from '../targets.js';

export interface ClaimedDelivery {
  delivery: DeliveryRow;
  event: StoredEvent;
  /** The receiver this delivery counts against for per-receiver concurrency caps. */
  group: string;
  /** What its target read for the whole claimed batch (DeliveryTarget.prepare), set by the worker. */
  prepared?: PreparedBatch;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
  /** Receivers already at their in-flight cap: their rows stay unclaimed for other receivers' sake. */
  excludeGroups: readonly string[];
}

/**
 * The due-row filter, with its statuses as literals: that is what lets SQLite use the partial index `deliveries_due`
 * (its WHERE must be implied by the query's, and a bound parameter proves nothing), so a claim reads the unsettled
 * rows only instead of scanning every delivery ever made.
 */
const UNSETTLED = sql<boolean>`status in ('pending', 'failed')`;

export const groupOf = (d: Pick<DeliveryRow, 'endpoint_id' | 'destination_id'>): string =>
  d.endpoint_id ?? d.destination_id ?? 'none';

/**
 * Claims up to `limit` due deliveries by writing a lease on them, in one short transaction; nothing is held while
 * sending. A row is due when it is pending or failed, its time has come, and no live lease covers it — so a crashed
 * worker's rows come back when its lease runs out (at-least-once). On PostgreSQL, SKIP LOCKED lets many workers
 * claim disjoint rows at once without waiting on each other.
 */
export async function claimDue(store: Store, opts: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (opts.limit <= 0) return [];
  const { db, profile } = store;
  const leaseUntil = opts.now + opts.leaseMs;
  const excluded = opts.excludeGroups.length ? opts.excludeGroups : ['-'];
  if (profile.queueFunctions) return claimInOneStatement(store, opts, leaseUntil, excluded);

  const claimed = await db.transaction().execute(async (tx) => {
    let pick = tx
      .selectFrom('deliveries')
      .select('id')
      .where(UNSETTLED)
      .where('next_attempt_at', '<=', opts.now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', opts.now)]))
      .where((eb) => eb(eb.fn.coalesce('endpoint_id', 'destination_id'), 'not in', excluded))
      .orderBy('next_attempt_at')
      .limit(opts.limit);
    if (profile.skipLocked) pick = pick.forUpdate().skipLocked();
    const ids = (await pick.execute()).map((r) => r.id);
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
    .map((delivery) => ({ delivery, event: byId.get(delivery.event_id)!, group: groupOf(delivery) }));
}

/**
 * PostgreSQL: pick, lease and read the events in one statement, so a claim costs one round trip instead of five
 * (BEGIN, pick, lease, COMMIT, events). The pick and lease are `claim_due_deliveries` (migration 0004: an ordered
 * index scan whatever the table's statistics say); SKIP LOCKED keeps concurrent workers on disjoint rows.
 */
async function claimInOneStatement(
  store: Store,
  opts: ClaimOptions,
  leaseUntil: number,
  excluded: readonly string[],
): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<{
    delivery: DeliveryRow;
    event_name: string;
    event_body: string | null;
    event_created_at: number;
  }>`
    select delivery, event_name, event_body, event_created_at
    from claim_due_deliveries(${opts.now}, ${opts.limit}, ${leaseUntil}, ${opts.owner}, ${[...excluded]}::text[])`.execute(
    store.db,
  );
  // Each event's body comes once per claim (migration 0008), on one of its deliveries' rows.
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
  return rows.map(({ delivery }) => ({ delivery, event: events.get(delivery.event_id)!, group: groupOf(delivery) }));
}

/** Gives claimed rows back at once (the worker took more of one receiver than its cap allows). */
export async function releaseClaims(store: Store, ids: readonly string[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await store.db
    .updateTable('deliveries')
    .set({ lease_until: null, lease_owner: null })
    .where('id', 'in', [...ids])
    .where('lease_owner', '=', owner)
    .execute();
}

/**
 * On the embedded store one process owns every worker, so at start-up any lease left behind belongs to a process
 * that died (kill -9): give those rows back now rather than wait for the leases to run out.
 */
export async function releaseOrphanedLeases(store: Store): Promise<number> {
  if (store.profile.name !== 'sqlite') return 0;
  const r = await store.db
    .updateTable('deliveries')
    .set({ lease_until: null, lease_owner: null })
    .where('lease_until', 'is not', null)
    .where(UNSETTLED)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** When the next delivery falls due (or a live lease runs out), so an idle worker sleeps exactly until then. */
export async function nextDueAt(store: Store, now: number): Promise<number | null> {
  const row = await store.db
    .selectFrom('deliveries')
    .select(
      sql<
        number | null
      >`min(case when lease_until is not null and lease_until > ${now} then lease_until else next_attempt_at end)`.as(
        'next',
      ),
    )
    .where(UNSETTLED)
    .executeTakeFirst();
  const next = row?.next == null ? null : Number(row.next);
  return next === null ? null : Math.max(next, now);
}
