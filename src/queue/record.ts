import { sql } from 'kysely';
import { newId } from '../ids.js';
import { againIfRowsMoved, inTransaction, type Store, type Tx } from '../storage/db.js';
import type { BatchColumnType } from '../storage/dialects.js';
import type { AttemptsTable } from '../storage/schema.js';
import { nextState, type AttemptOutcome, type AttemptResult, type NextState } from './attempt.js';
import { unsettledByIdIn } from './conditions.js';
import { refreshEventStatus } from './event-status.js';
import type { WakeChannel } from './wakeup.js';

/**
 * Runs in a result transaction with the results it applied (the worker's endpoint health, auto-disable, metrics);
 * may answer the channels to wake once that transaction commits (it wrote new deliveries).
 */
export type AfterResults = (
  tx: Tx,
  applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>,
) => Promise<void | ReadonlySet<WakeChannel>>;

const EXCERPT_MAX = 2048;
const ERROR_MESSAGE_MAX = 500;

/**
 * Writes a batch of attempt results in one transaction (`schedule` is the server's retry schedule, for results
 * whose receiver has none of its own): the attempt rows, each delivery's next state (only if its
 * worker still holds the lease — a row whose lease expired and was re-claimed belongs to someone else now, and
 * nothing of this result is written), and the delivery status of the affected events. Returns the results applied.
 *
 * On PostgreSQL a batch of nothing but successes (the steady state) is one call of `record_delivery_successes`
 * (pg-functions.ts), which also clears their endpoints' failing streaks as `afterResults` would: one round trip
 * instead of six. Any failure or skip in the batch takes the transaction, where `afterResults` decides about
 * failing streaks and auto-disable; so does a batch reaching an endpoint that was reported failing or disabled,
 * whose recovery `afterResults` announces (the function finds that out itself, writes nothing and says so).
 */
export async function record(
  store: Store,
  schedule: readonly number[],
  results: readonly AttemptResult[],
  afterResults?: AfterResults,
): Promise<AttemptResult[]> {
  if (results.length === 0) return [];
  const planned = results.map((r) => {
    const n = r.delivery.attempt_count + (r.outcome ? 1 : 0);
    // The schedule counts attempts of the current sequence: a resent delivery starts again at its first delay.
    const inSequence = n - (r.delivery.sequence_start ?? 0);
    const state: NextState = r.outcome
      ? nextState(r.retryScheduleMs ?? schedule, inSequence, r.outcome, r.finishedAt)
      : { status: 'dead', next_attempt_at: null };
    return { r, n, state };
  });
  if (store.profile.queueFunctions && planned.every(({ r }) => r.outcome?.ok)) {
    const applied = await againIfRowsMoved(() => recordSuccesses(store, planned));
    if (applied) return applied;
  }
  // A batch refused because one of its rows had moved partitions meanwhile (it was ended, or a late settle of a row
  // whose lease ran out) runs again whole: its result is then not applied, the row being no longer this worker's.
  return inTransaction(store.db, (tx) => writeResults(store, tx, planned, afterResults));
}

/** The result transaction's statements (record, above). */
async function writeResults(
  store: Store,
  tx: Tx,
  planned: ReadonlyArray<{ r: AttemptResult; n: number; state: NextState }>,
  afterResults: AfterResults | undefined,
): Promise<AttemptResult[]> {
  // One statement for the whole batch, not one per delivery: on PostgreSQL each would be a round trip inside this
  // transaction. The join on lease_owner applies only rows this worker still holds; RETURNING tells which.
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
    where deliveries.id = v.id and deliveries.lease_owner = v.owner and ${unsettledByIdIn('deliveries')}
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
  if (afterResults && appliedStates.length) await afterResults(tx, appliedStates);
  if (attempts.length) {
    await sql`
      insert into attempts (${sql.raw(ATTEMPT_COLUMN_NAMES)}, keep_days)
      select ${sql.raw(ATTEMPT_COLUMN_NAMES)}, ${ATTEMPT_KEEP_DAYS}
      from ${store.profile.batchRows(attempts, ATTEMPT_COLUMNS)} as a`.execute(tx);
  }
  const eventIds = [...new Set(applied.map((r) => r.delivery.event_id))];
  if (eventIds.length) await refreshEventStatus(store, tx, eventIds);
  return applied;
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
  event_id: 'text',
} as const satisfies Record<Exclude<keyof AttemptsTable, 'keep_days'>, BatchColumnType>;
/** An attempt row's retention class: its company's now (`a` is the row being written). */
const ATTEMPT_KEEP_DAYS = sql.raw(`coalesce((select c.history_class from companies c where c.id = a.company_id), 0)`);
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
    error_message: outcome.errorMessage?.slice(0, ERROR_MESSAGE_MAX) ?? null,
    response_excerpt: outcome.responseExcerpt?.slice(0, EXCERPT_MAX) ?? null,
    event_id: r.delivery.event_id,
  };
}

/**
 * PostgreSQL, a batch of successes: `record_delivery_successes`, its columns as arrays (one text for any size). Null
 * when the function wrote nothing because the batch reaches an endpoint reported failing or disabled.
 */
async function recordSuccesses(
  store: Store,
  planned: ReadonlyArray<{ r: AttemptResult; n: number; state: NextState }>,
): Promise<AttemptResult[] | null> {
  const rows = planned.map(({ r, n }) => ({ r, a: attemptRow(r, n, r.outcome!) }));
  const column = <T>(pick: (x: (typeof rows)[number]) => T) => rows.map(pick);
  const applied = await sql<{ id: string | null }>`
    select id from record_delivery_successes(
      ${column((x) => x.r.delivery.id)}::text[], ${column((x) => x.r.owner)}::text[], ${column((x) => x.a.n)}::integer[],
      ${column((x) => x.a.status_code)}::integer[], ${column((x) => x.r.finishedAt)}::bigint[], ${column((x) => x.a.id)}::text[],
      ${column((x) => x.a.company_id)}::text[], ${column((x) => x.a.started_at)}::bigint[], ${column((x) => x.a.duration_ms)}::bigint[],
      ${column((x) => x.a.response_excerpt)}::text[], ${column((x) => x.r.delivery.endpoint_id)}::text[]
    ) as id`.execute(store.db);
  if (applied.rows.some((row) => row.id === null)) return null;
  const ours = new Set(applied.rows.map((row) => row.id));
  return planned.filter(({ r }) => ours.has(r.delivery.id)).map(({ r }) => r);
}
