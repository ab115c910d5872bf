import { sql } from 'kysely';
import type { BatchColumnType, DialectProfile } from '../../storage/dialects.js';
import { newId } from '../../ids.js';
import type { Store, Tx } from '../../storage/db.js';
import type { AttemptsTable } from '../../storage/schema.js';
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
export function nextState(
  schedule: readonly number[],
  attemptNumber: number,
  outcome: AttemptOutcome,
  now: number,
): NextState {
  if (outcome.ok) return { status: 'success', next_attempt_at: null };
  // 410 Gone means "stop": the endpoint is disabled and retrying would only knock on a closed door.
  if (outcome.gone) return { status: 'dead', next_attempt_at: null };
  const delay = nextRetryDelay(schedule, attemptNumber, outcome.retryAfterMs);
  return delay === null
    ? { status: 'dead', next_attempt_at: null }
    : { status: 'failed', next_attempt_at: now + delay };
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
  const planned = results.map((r) => {
    const n = r.delivery.attempt_count + (r.outcome ? 1 : 0);
    // The schedule counts attempts of the current sequence: a resent delivery starts again at 1 minute.
    const inSequence = n - (r.delivery.sequence_start ?? 0);
    const state: NextState = r.outcome
      ? nextState(schedule, inSequence, r.outcome, r.finishedAt)
      : { status: 'dead', next_attempt_at: null };
    return { r, n, state };
  });
  if (store.profile.queueFunctions && planned.every(({ r }) => r.outcome?.ok))
    return recordSuccessesInOneStatement(store, planned);
  return store.db.transaction().execute(async (tx) => {
    // One statement for the whole batch, not one per delivery: on PostgreSQL each would be a round trip inside this
    // transaction. A row is only updated while this worker still holds its lease (the join on lease_owner); a row
    // whose lease expired and was re-claimed belongs to someone else now, and RETURNING tells which rows were ours.
    const next = planned.map(({ r, n, state }) => ({
      id: r.delivery.id,
      owner: r.owner,
      status: state.status,
      next_attempt_at: state.next_attempt_at,
      attempt_count: n,
      last_status_code: r.outcome?.statusCode ?? null,
      last_error: r.outcome ? (r.outcome.ok ? null : (r.outcome.errorKind ?? 'error')) : (r.skipReason ?? 'skipped'),
      updated_at: r.finishedAt,
    }));
    const updated = await sql<{ id: string }>`
      update deliveries set
        status = v.status,
        next_attempt_at = v.next_attempt_at,
        attempt_count = v.attempt_count,
        lease_until = null,
        lease_owner = null,
        last_status_code = v.last_status_code,
        last_error = v.last_error,
        updated_at = v.updated_at
      from ${store.profile.batchRows(next, NEXT_STATE_COLUMNS)} as v
      where deliveries.id = v.id and deliveries.lease_owner = v.owner
      returning deliveries.id`.execute(tx);
    const ours = new Set(updated.rows.map((row) => row.id));

    const applied: AttemptResult[] = [];
    const appliedStates: Array<{ result: AttemptResult; state: NextState }> = [];
    const attempts = [];
    for (const { r, n, state } of planned) {
      if (!ours.has(r.delivery.id)) continue;
      applied.push(r);
      if (r.outcome) attempts.push(attemptRow(r, n, r.outcome));
      appliedStates.push({ result: r, state });
    }
    if (afterBatch && appliedStates.length) await afterBatch(tx, appliedStates);
    if (attempts.length) {
      await sql`
        insert into attempts (${sql.raw(ATTEMPT_COLUMN_NAMES)})
        select ${sql.raw(ATTEMPT_COLUMN_NAMES)} from ${store.profile.batchRows(attempts, ATTEMPT_COLUMNS)} as a`.execute(
        tx,
      );
    }
    const eventIds = [...new Set(applied.map((r) => r.delivery.event_id))];
    if (eventIds.length) await refreshEventDeliveryStatus(store.profile, tx, eventIds);
    return applied;
  });
}

const NEXT_STATE_COLUMNS = {
  id: 'text',
  owner: 'text',
  status: 'text',
  next_attempt_at: 'bigint',
  attempt_count: 'bigint',
  last_status_code: 'bigint',
  last_error: 'text',
  updated_at: 'bigint',
} as const;

const ATTEMPT_COLUMNS = {
  id: 'text',
  delivery_id: 'text',
  company_id: 'text',
  n: 'bigint',
  started_at: 'bigint',
  duration_ms: 'bigint',
  status_code: 'bigint',
  error_kind: 'text',
  error_message: 'text',
  response_excerpt: 'text',
} as const satisfies Record<keyof AttemptsTable, BatchColumnType>;
const ATTEMPT_COLUMN_NAMES = Object.keys(ATTEMPT_COLUMNS).join(', ');

function attemptRow(r: AttemptResult, n: number, outcome: AttemptOutcome) {
  return {
    id: newId('att'),
    delivery_id: r.delivery.id,
    company_id: r.delivery.company_id,
    n,
    started_at: r.startedAt,
    duration_ms: Math.round(outcome.durationMs),
    status_code: outcome.statusCode,
    error_kind: outcome.errorKind,
    error_message: outcome.errorMessage?.slice(0, 500) ?? null,
    response_excerpt: outcome.responseExcerpt?.slice(0, EXCERPT_MAX) ?? null,
  };
}

/**
 * PostgreSQL, a batch of nothing but successes (the steady state): every write of the transaction path — the
 * deliveries (still only where this worker holds the lease), their attempt rows, their endpoints' failing streaks
 * (what `afterBatch` does for successes) and their events' delivery status — in one call of
 * `record_delivery_successes` (migration 0007): one round trip and one transaction instead of six round trips. The
 * columns travel as arrays, so PostgreSQL parses the same short text for any batch size. A batch with any failure
 * or skip takes the transaction path, where the endpoint-health hook decides about failing streaks and auto-disable.
 */
async function recordSuccessesInOneStatement(
  store: Store,
  planned: ReadonlyArray<{ r: AttemptResult; n: number; state: NextState }>,
): Promise<AttemptResult[]> {
  const rows = planned.map(({ r, n }) => ({ r, a: attemptRow(r, n, r.outcome!) }));
  const column = <T>(pick: (x: (typeof rows)[number]) => T) => rows.map(pick);
  const applied = await sql<{ id: string }>`
    select id from record_delivery_successes(
      ${column((x) => x.r.delivery.id)}::text[], ${column((x) => x.r.owner)}::text[], ${column((x) => x.a.n)}::integer[],
      ${column((x) => x.a.status_code)}::integer[], ${column((x) => x.r.finishedAt)}::bigint[], ${column((x) => x.a.id)}::text[],
      ${column((x) => x.a.company_id)}::text[], ${column((x) => x.a.started_at)}::bigint[], ${column((x) => x.a.duration_ms)}::bigint[],
      ${column((x) => x.a.response_excerpt)}::text[], ${column((x) => x.r.delivery.endpoint_id)}::text[]
    ) as id`.execute(store.db);
  const ours = new Set(applied.rows.map((row) => row.id));
  return planned.filter(({ r }) => ours.has(r.delivery.id)).map(({ r }) => r);
}

/**
 * An event's delivery status summarises its deliveries: dead beats failed beats pending beats success. One pass over
 * each event's deliveries (deliveries_event), and no write when the status is unchanged — while an event still has
 * deliveries pending, a batch that settles one of them would otherwise rewrite the row (and, on PostgreSQL, a new
 * row version and an index entry in events_company_status) for nothing. Deliveries are never deleted, so every
 * event passed here has at least one. On PostgreSQL, where workers settle sibling deliveries concurrently, the
 * recomputation runs under a lock on the event rows (migration 0006, refresh_event_delivery_status).
 */
export async function refreshEventDeliveryStatus(
  profile: DialectProfile,
  tx: Tx,
  eventIds: readonly string[],
): Promise<void> {
  if (eventIds.length === 0) return;
  if (profile.queueFunctions) {
    await sql`select refresh_event_delivery_status(${[...eventIds]}::text[])`.execute(tx);
    return;
  }
  await sql`
    update events set delivery_status = s.status
    from (
      select event_id,
        case max(case status when 'dead' then 4 when 'failed' then 3 when 'pending' then 2 else 1 end)
          when 4 then 'dead' when 3 then 'failed' when 2 then 'pending' else 'success' end as status
      from deliveries
      where event_id in ${profile.batchValues(eventIds)}
      group by event_id
    ) as s
    where events.id = s.event_id and events.delivery_status <> s.status`.execute(tx);
}
