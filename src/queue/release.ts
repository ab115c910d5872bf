import { againIfRowsMoved, type Store } from '../storage/db.js';
import { UNSETTLED, UNSETTLED_BY_ID } from './conditions.js';

/**
 * Gives claimed rows back at once, if this owner still holds them (a worker took more than it will send, or stops).
 * Runs again if one of them was ended meanwhile (moved to the settled partition, againIfRowsMoved).
 */
export async function release(store: Store, ids: readonly string[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await againIfRowsMoved(() =>
    store.db
      .updateTable('deliveries')
      .set({ lease_until: null, lease_owner: null })
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', owner)
      .where(UNSETTLED_BY_ID)
      .execute(),
  );
}

/**
 * On the embedded store one process owns every worker, so at start-up any lease left behind belongs to a process
 * that died (kill -9): give those rows back now rather than wait for the leases to run out. On PostgreSQL other
 * processes' leases are live, and are left alone. Returns how many rows were given back.
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

/**
 * Gives claimed rows back due at `until`, if this owner still holds them: they may not go before then (their
 * endpoint's rate window is full, or it is held). Not an attempt: nothing else about them changes. Runs again as
 * release does.
 */
export async function defer(store: Store, ids: readonly string[], owner: string, until: number): Promise<void> {
  if (ids.length === 0) return;
  await againIfRowsMoved(() =>
    store.db
      .updateTable('deliveries')
      .set({ lease_until: null, lease_owner: null, next_attempt_at: until })
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', owner)
      .where(UNSETTLED_BY_ID)
      .execute(),
  );
}
