import { lockCompanyRow } from '../domain/companies.js';
import type { ExpressionBuilder } from 'kysely';
import { iso } from '../clock.js';
import { transact, type DomainContext } from '../domain/context.js';
import { EVENT_NAMES } from '../domain/event-catalog.js';
import { AppError, notFound, validationFailed } from '../errors.js';
import { newId } from '../ids.js';
import { recoverableIn } from '../queue/conditions.js';
import { requeue } from '../queue/requeue.js';
import type { Database, DeliveriesTable, EndpointsTable, EventsTable, RecoverJobsTable } from '../storage/schema.js';

/**
 * Bulk recover: the company's failed or dead endpoint deliveries that match its filters (endpoints, event names,
 * statuses, a creation-time range) go back in the queue, a new retry sequence each, in chunks whose progress a job
 * row shows. A dry run counts them and shows a sample, changing nothing. Bounded per company: at most
 * `companyLimits.recoverDeliveries` deliveries per job and one job running at a time.
 */

type RecoverStatus = 'failed' | 'dead';
const RECOVER_STATUSES: readonly RecoverStatus[] = ['failed', 'dead'];
const RECOVER_SAMPLE_SIZE = 10;
const CHUNK = 500;
/** A job whose chunks stopped this long ago was cut off (its process ended); it no longer holds the company's turn. */
const RECOVER_STALE_MS = 5 * 60_000;

export interface RecoverFilter {
  endpoint_ids?: string[];
  events?: string[];
  statuses?: RecoverStatus[];
  /** Epoch ms, inclusive: deliveries created at or after. */
  since?: number;
  /** Epoch ms, exclusive: deliveries created before. */
  until?: number;
}

export interface RecoverSampleItem {
  id: string;
  event: string;
  event_id: string;
  endpoint_id: string;
  status: RecoverStatus;
  attempt_count: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
}

export interface RecoverDryRun {
  dry_run: true;
  count: number;
  /** The most a job may requeue; a larger count must be narrowed first. */
  limit: number;
  sample: RecoverSampleItem[];
}

export interface RecoverJobView {
  id: string;
  status: 'running' | 'done' | 'interrupted';
  total: number;
  done: number;
  /** Deliveries a worker had claimed, or that were resent meanwhile, when their chunk ran: left as they were. */
  skipped: number;
  filter: {
    endpoint_ids: string[] | null;
    events: string[] | null;
    statuses: RecoverStatus[];
    since: string | null;
    until: string | null;
  };
  created_at: string;
  updated_at: string;
}

type Joined = Database & { d: DeliveriesTable; e: EventsTable; ep: EndpointsTable };

/** Checks the filters; another company's (or no) endpoint is a 404, a disabled one a 409 (its deliveries would skip). */
async function checkFilter(
  ctx: DomainContext,
  companyId: string,
  f: RecoverFilter,
): Promise<Required<Pick<RecoverFilter, 'statuses'>> & RecoverFilter> {
  const statuses = f.statuses?.length ? [...new Set(f.statuses)] : [...RECOVER_STATUSES];
  for (const s of statuses)
    if (!RECOVER_STATUSES.includes(s))
      throw validationFailed('statuses may hold failed and dead', { field: 'statuses' });
  for (const name of f.events ?? [])
    if (!(EVENT_NAMES as readonly string[]).includes(name))
      throw validationFailed(`events: unknown event "${name.slice(0, 100)}"`, { field: 'events' });
  if (f.since !== undefined && f.until !== undefined && f.until <= f.since)
    throw validationFailed('until must be after since', { field: 'until' });
  const endpointIds = f.endpoint_ids?.length ? [...new Set(f.endpoint_ids)] : undefined;
  if (endpointIds) {
    const rows = await ctx.store.db
      .selectFrom('endpoints')
      .select(['id', 'enabled'])
      .where('company_id', '=', companyId)
      .where('id', 'in', endpointIds)
      .execute();
    if (rows.length !== endpointIds.length) throw notFound('webhook endpoint');
    const off = rows.find((r) => r.enabled !== 1);
    if (off)
      throw new AppError(
        'conflict',
        'An endpoint in endpoint_ids is disabled; enable it before recovering deliveries',
        {
          endpoint_id: off.id,
        },
      );
  }
  return { ...f, statuses, endpoint_ids: endpointIds, events: f.events?.length ? [...new Set(f.events)] : undefined };
}

/** The deliveries a filter covers: failed or dead, of this company's enabled endpoints, not leased at `now`. */
export function recoverableDeliveries(
  ctx: DomainContext,
  companyId: string,
  f: RecoverFilter & { statuses: RecoverStatus[] },
  now: number,
) {
  return ctx.store.db
    .selectFrom('deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .innerJoin('endpoints as ep', 'ep.id', 'd.endpoint_id')
    .where((eb: ExpressionBuilder<Joined, 'd' | 'e' | 'ep'>) => {
      const terms = [
        eb('d.company_id', '=', companyId),
        eb('ep.company_id', '=', companyId),
        eb('ep.enabled', '=', 1),
        // Literals, as the partial index deliveries_recoverable (migration 0057) names them; a parameter proves
        // nothing to SQLite's planner. The filter's own statuses narrow it further.
        recoverableIn('d'),
        eb('d.status', 'in', f.statuses),
        eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<=', now)]),
      ];
      if (f.endpoint_ids) terms.push(eb('d.endpoint_id', 'in', f.endpoint_ids));
      if (f.events) terms.push(eb('e.name', 'in', f.events));
      if (f.since !== undefined) terms.push(eb('d.created_at', '>=', f.since));
      if (f.until !== undefined) terms.push(eb('d.created_at', '<', f.until));
      return eb.and(terms);
    });
}

/** How many deliveries the filter covers and the newest few of them; nothing is changed. */
export async function recoverDryRun(
  ctx: DomainContext,
  companyId: string,
  filter: RecoverFilter,
): Promise<RecoverDryRun> {
  const f = await checkFilter(ctx, companyId, filter);
  const now = ctx.clock.now();
  const [count, sample] = await Promise.all([
    recoverableDeliveries(ctx, companyId, f, now)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow(),
    recoverableDeliveries(ctx, companyId, f, now)
      .select([
        'd.id',
        'e.name as event',
        'd.event_id',
        'd.endpoint_id',
        'd.status',
        'd.attempt_count',
        'd.last_status_code',
        'd.last_error',
        'd.created_at',
      ])
      .orderBy('d.created_at', 'desc')
      .orderBy('d.id', 'desc')
      .limit(RECOVER_SAMPLE_SIZE)
      .execute(),
  ]);
  return {
    dry_run: true,
    count: Number(count.n),
    limit: ctx.config.companyLimits.recoverDeliveries,
    sample: sample.map((r) => ({
      id: r.id,
      event: r.event,
      event_id: r.event_id,
      endpoint_id: r.endpoint_id!,
      status: r.status as RecoverStatus,
      attempt_count: Number(r.attempt_count),
      last_status_code: r.last_status_code === null ? null : Number(r.last_status_code),
      last_error: r.last_error,
      created_at: iso(Number(r.created_at)),
    })),
  };
}

function jobView(row: RecoverJobsTable, now: number): RecoverJobView {
  const f = JSON.parse(row.filter) as RecoverFilter & { statuses: RecoverStatus[] };
  const stale = row.status === 'running' && Number(row.updated_at) <= now - RECOVER_STALE_MS;
  return {
    id: row.id,
    status: stale ? 'interrupted' : row.status,
    total: Number(row.total),
    done: Number(row.done),
    skipped: Number(row.skipped),
    filter: {
      endpoint_ids: f.endpoint_ids ?? null,
      events: f.events ?? null,
      statuses: f.statuses,
      since: f.since === undefined ? null : iso(f.since),
      until: f.until === undefined ? null : iso(f.until),
    },
    created_at: iso(Number(row.created_at)),
    updated_at: iso(Number(row.updated_at)),
  };
}

export async function getRecoverJob(ctx: DomainContext, companyId: string, id: string): Promise<RecoverJobView> {
  const row = await ctx.store.db
    .selectFrom('recover_jobs')
    .selectAll()
    .where('id', '=', id)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  if (!row) throw notFound('recover job');
  return jobView(row, ctx.clock.now());
}

export interface StartedRecover {
  job: RecoverJobView;
  /** Settles when every chunk was requeued (or one failed); the API does not wait for it. */
  finished: Promise<RecoverJobView>;
}

/**
 * Starts a bulk recover: the matching deliveries are fixed now (at most the company's limit, else 409
 * `recover_too_large`), the job row is written (one running job per company, else 409 `recover_in_progress`), and the
 * chunks are requeued one transaction each after the answer, each advancing `done`.
 */
export async function startRecover(
  ctx: DomainContext,
  companyId: string,
  filter: RecoverFilter,
): Promise<StartedRecover> {
  const f = await checkFilter(ctx, companyId, filter);
  const limit = ctx.config.companyLimits.recoverDeliveries;
  const now = ctx.clock.now();
  const rows = await recoverableDeliveries(ctx, companyId, f, now)
    .select('d.id')
    .orderBy('d.created_at')
    .orderBy('d.id')
    .limit(limit + 1)
    .execute();
  if (rows.length > limit)
    throw new AppError(
      'recover_too_large',
      `A recover may requeue at most ${limit} deliveries; narrow the filters (a dry run counts them)`,
      { limit },
    );
  const ids = rows.map((r) => r.id);
  const job = await transact(ctx, async ({ tx, now }) => {
    // One job at a time per company: two starting at once take turns on the company row.
    await lockCompanyRow(ctx, tx, companyId);
    const running = await tx
      .selectFrom('recover_jobs')
      .select('id')
      .where('company_id', '=', companyId)
      .where('status', '=', 'running')
      .where('updated_at', '>', now - RECOVER_STALE_MS)
      .executeTakeFirst();
    if (running)
      throw new AppError('recover_in_progress', 'A recover of this company is still running; wait for it to finish', {
        job_id: running.id,
      });
    const row: RecoverJobsTable = {
      id: newId('rcv'),
      company_id: companyId,
      filter: JSON.stringify(f),
      status: ids.length ? 'running' : 'done',
      total: ids.length,
      done: 0,
      skipped: 0,
      created_at: now,
      updated_at: now,
    };
    await tx.insertInto('recover_jobs').values(row).execute();
    return row;
  });
  return { job: jobView(job, now), finished: runChunks(ctx, companyId, job.id, ids, f.statuses) };
}

async function runChunks(
  ctx: DomainContext,
  companyId: string,
  jobId: string,
  ids: readonly string[],
  statuses: RecoverStatus[],
): Promise<RecoverJobView> {
  // After the answer: the caller sees the job before its first chunk is requeued.
  await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    await transact(ctx, async (work) => {
      const resent = await requeue(ctx.store, work, companyId, chunk, statuses);
      const last = i + CHUNK >= ids.length;
      await work.tx
        .updateTable('recover_jobs')
        .set((eb) => ({
          done: eb('done', '+', resent),
          skipped: eb('skipped', '+', chunk.length - resent),
          status: last ? 'done' : 'running',
          updated_at: work.now,
        }))
        .where('id', '=', jobId)
        .execute();
    });
  }
  return getRecoverJob(ctx, companyId, jobId);
}
