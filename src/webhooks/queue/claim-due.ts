import { sql } from 'kysely';

import type { Store } from '../../storage/db.js';
import type { DeliveryRow, StoredEvent } from '../targets.js';

export interface ClaimedDelivery {
  delivery: DeliveryRow;
  event: StoredEvent;
  /** The receiver this delivery counts against for per-receiver concurrency caps. */
  group: string;
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

export const groupOf = (d: Pick<DeliveryRow, 'endpoint_id' | 'destination_id'>): string => d.endpoint_id ?? d.destination_id ?? 'none';

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
  if (profile.skipLocked) return claimInOneStatement(store, opts, leaseUntil, excluded);

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
      .where('id', 'in', ids)
      .returningAll()
      .execute();
  });
  if (claimed.length === 0) return [];

  const events = await db
    .selectFrom('events')
    .select(['id', 'name', 'body', 'created_at'])
    .where('id', 'in', [...new Set(claimed.map((d) => d.event_id))])
    .execute();
  const byId = new Map(events.map((e) => [e.id, e]));
  return claimed
    .sort((a, b) => (a.next_attempt_at ?? 0) - (b.next_attempt_at ?? 0))
    .map((delivery) => ({ delivery, event: byId.get(delivery.event_id)!, group: groupOf(delivery) }));
}

/**
 * PostgreSQL: pick, lease and read the events in one statement, so a claim costs one round trip instead of five
 * (BEGIN, pick, lease, COMMIT, events) — at a few hundred claims a second that is most of a worker's waiting. The
 * statement is its own transaction; SKIP LOCKED still keeps concurrent workers on disjoint rows.
 */
async function claimInOneStatement(store: Store, opts: ClaimOptions, leaseUntil: number, excluded: readonly string[]): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<DeliveryRow & { claimed_event_name: string; claimed_event_body: string; claimed_event_created_at: number }>`
    with picked as (
      select id from deliveries
      where status in ('pending', 'failed') and next_attempt_at <= ${opts.now}
        and (lease_until is null or lease_until <= ${opts.now})
        and coalesce(endpoint_id, destination_id) not in (${sql.join([...excluded])})
      order by next_attempt_at
      limit ${opts.limit}
      for update skip locked
    ), claimed as (
      update deliveries as d set lease_until = ${leaseUntil}, lease_owner = ${opts.owner}
      from picked where d.id = picked.id
      returning d.*
    )
    select claimed.*, e.name as claimed_event_name, e.body as claimed_event_body, e.created_at as claimed_event_created_at
    -- LATERAL: one primary-key probe per claimed row. A plain join lets the planner hash-join against a scan of
    -- every event when its estimate of the claimed rows is off (it was, with a small events table).
    from claimed cross join lateral (select name, body, created_at from events where events.id = claimed.event_id) as e
    order by claimed.next_attempt_at`.execute(store.db);
  return rows.map(({ claimed_event_name, claimed_event_body, claimed_event_created_at, ...delivery }) => ({
    delivery,
    event: { id: delivery.event_id, name: claimed_event_name, body: claimed_event_body, created_at: Number(claimed_event_created_at) },
    group: groupOf(delivery),
  }));
}

/** Gives claimed rows back at once (the worker took more of one receiver than its cap allows). */
export async function releaseClaims(store: Store, ids: readonly string[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await store.db.updateTable('deliveries').set({ lease_until: null, lease_owner: null }).where('id', 'in', [...ids]).where('lease_owner', '=', owner).execute();
}

/**
 * On the embedded store one process owns every worker, so at start-up any lease left behind belongs to a process
 * that died (kill -9): give those rows back now rather than wait for the leases to run out.
 */
export async function releaseOrphanedLeases(store: Store): Promise<number> {
  if (store.profile.name !== 'sqlite') return 0;
  const r = await store.db.updateTable('deliveries').set({ lease_until: null, lease_owner: null }).where('lease_until', 'is not', null).where(UNSETTLED).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** When the next delivery falls due (or a live lease runs out), so an idle worker sleeps exactly until then. */
export async function nextDueAt(store: Store, now: number): Promise<number | null> {
  const row = await store.db
    .selectFrom('deliveries')
    .select(sql<number | null>`min(case when lease_until is not null and lease_until > ${now} then lease_until else next_attempt_at end)`.as('next'))
    .where(UNSETTLED)
    .executeTakeFirst();
  const next = row?.next == null ? null : Number(row.next);
  return next === null ? null : Math.max(next, now);
}

