import { sql } from 'kysely';
import { newId } from '../../ids.js';
import type { Store, Tx } from '../../storage/db.js';
import type { AttemptOutcome } from '../http-sender.js';
import type { DeliveryRow } from '../targets.js';
import { nextRetryDelay } from '../retry-schedule.js';

export interface AttemptResult {
  delivery: DeliveryRow;
  startedAt: number;
  finishedAt: number;
  /** null when the delivery ended without an attempt (its endpoint was deleted or disabled). */
  outcome: AttemptOutcome | null;
  skipReason?: string;
  owner: string;
}

export interface NextState {
  status: DeliveryRow['status'];
  next_attempt_at: number | null;
}

/** The state machine of one delivery after an attempt: success, a scheduled retry, or dead when the schedule is spent. */
export function nextState(schedule: readonly number[], attemptNumber: number, outcome: AttemptOutcome, now: number): NextState {
  if (outcome.ok) return { status: 'success', next_attempt_at: null };
  // 410 Gone means "stop": the endpoint is disabled and retrying would only knock on a closed door.
  if (outcome.gone) return { status: 'dead', next_attempt_at: null };
  const delay = nextRetryDelay(schedule, attemptNumber, outcome.retryAfterMs);
  return delay === null ? { status: 'dead', next_attempt_at: null } : { status: 'failed', next_attempt_at: now + delay };
}

const EXCERPT_MAX = 2048;

/**
 * Writes a batch of attempt results in one transaction: the attempt rows, each delivery's next state (only if this
 * worker still holds its lease — a row whose lease expired and was re-claimed belongs to someone else now), and the
 * delivery status of the affected events, which the event feed shows and filters on.
 * Returns the results that were applied.
 */
export async function recordResults(
  store: Store,
  schedule: readonly number[],
  results: readonly AttemptResult[],
  afterBatch?: (tx: Tx, applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>) => Promise<void>,
): Promise<AttemptResult[]> {
  if (results.length === 0) return [];
  return store.db.transaction().execute(async (tx) => {
    const applied: AttemptResult[] = [];
    const appliedStates: Array<{ result: AttemptResult; state: NextState }> = [];
    const attempts = [];
    for (const r of results) {
      const n = r.delivery.attempt_count + (r.outcome ? 1 : 0);
      // The schedule counts attempts of the current sequence: a resent delivery starts again at 1 minute.
      const inSequence = n - (r.delivery.sequence_start ?? 0);
      const state: NextState = r.outcome ? nextState(schedule, inSequence, r.outcome, r.finishedAt) : { status: 'dead', next_attempt_at: null };
      const update = await tx
        .updateTable('deliveries')
        .set({
          status: state.status,
          next_attempt_at: state.next_attempt_at,
          attempt_count: n,
          lease_until: null,
          lease_owner: null,
          last_status_code: r.outcome?.statusCode ?? null,
          last_error: r.outcome ? (r.outcome.ok ? null : (r.outcome.errorKind ?? 'error')) : (r.skipReason ?? 'skipped'),
          updated_at: r.finishedAt,
        })
        .where('id', '=', r.delivery.id)
        .where('lease_owner', '=', r.owner)
        .executeTakeFirst();
      if (Number(update.numUpdatedRows) !== 1) continue;
      applied.push(r);
      if (r.outcome) {
        attempts.push({
          id: newId('att'),
          delivery_id: r.delivery.id,
          company_id: r.delivery.company_id,
          n,
          started_at: r.startedAt,
          duration_ms: Math.round(r.outcome.durationMs),
          status_code: r.outcome.statusCode,
          error_kind: r.outcome.errorKind,
          error_message: r.outcome.errorMessage?.slice(0, 500) ?? null,
          response_excerpt: r.outcome.responseExcerpt?.slice(0, EXCERPT_MAX) ?? null,
        });
      }
      appliedStates.push({ result: r, state });
    }
    if (afterBatch && appliedStates.length) await afterBatch(tx, appliedStates);
    if (attempts.length) await tx.insertInto('attempts').values(attempts).execute();
    const eventIds = [...new Set(applied.map((r) => r.delivery.event_id))];
    if (eventIds.length) await refreshEventDeliveryStatus(tx, eventIds);
    return applied;
  });
}

/** An event's delivery status summarises its deliveries: dead beats failed beats pending beats success. */
export async function refreshEventDeliveryStatus(tx: Tx, eventIds: readonly string[]): Promise<void> {
  await tx
    .updateTable('events')
    .set({
      delivery_status: sql`case
        when exists (select 1 from deliveries d where d.event_id = events.id and d.status = 'dead') then 'dead'
        when exists (select 1 from deliveries d where d.event_id = events.id and d.status = 'failed') then 'failed'
        when exists (select 1 from deliveries d where d.event_id = events.id and d.status = 'pending') then 'pending'
        when exists (select 1 from deliveries d where d.event_id = events.id) then 'success'
        else 'none' end`,
    })
    .where('id', 'in', [...eventIds])
    .execute();
}
