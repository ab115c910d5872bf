import type { Logger } from 'pino';
import { iso } from '../clock.js';
import type { DomainContext } from '../domain/context.js';
import type { Store } from '../storage/db.js';
import { getEndpoint } from './endpoints.js';
import type { ConcurrencyState, ReceiverConcurrency } from './worker/adaptive-limits.js';

/** An endpoint's adaptive concurrency as the API shows it. */
export interface EndpointConcurrencyView {
  endpoint_id: string;
  state: ConcurrencyState;
  /** Attempts in flight allowed now. */
  limit: number;
  /** The most it widens to (the operator's per-endpoint cap). */
  cap: number;
  /** When it entered this state (ISO time); null while it has never been narrowed. */
  since: string | null;
  /** What narrowed it last: an error kind (`timeout`, `connection_refused`, …) or `http_<status>`. */
  reason: string | null;
  /** When a worker last reported a change (ISO time); null while none has. */
  updated_at: string | null;
}

/**
 * The endpoint's concurrency as a worker last reported it. Each worker process adapts from its own attempts and
 * writes a row when it narrows, probes or widens the endpoint, so with several processes this is the latest change
 * any of them saw. No row: the endpoint was never narrowed (or is back open), at the configured cap.
 */
export async function getEndpointConcurrency(
  ctx: DomainContext,
  companyId: string,
  id: string,
): Promise<EndpointConcurrencyView> {
  await getEndpoint(ctx, companyId, id);
  const row = await ctx.store.db
    .selectFrom('endpoint_concurrency')
    .selectAll()
    .where('endpoint_id', '=', id)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  const cap = ctx.config.perEndpointConcurrency;
  if (!row) return { endpoint_id: id, state: 'open', limit: cap, cap, since: null, reason: null, updated_at: null };
  return {
    endpoint_id: id,
    state: row.state,
    limit: Number(row.current_limit),
    cap: Number(row.cap),
    since: row.since === null ? null : iso(Number(row.since)),
    reason: row.reason,
    updated_at: iso(Number(row.updated_at)),
  };
}

/**
 * Publishes endpoints' concurrency changes from a worker: the latest change per endpoint is kept and written in
 * one statement per endpoint, at most one write at a time, outside the attempts' result transactions (a batch of
 * successes on PostgreSQL is one function call that does not run this). Changes come only when a limit or state
 * moves, a handful per incident, so this is rare work; a failed write is logged and the next change overwrites it.
 */
export class ConcurrencyPublisher {
  private readonly pending = new Map<string, { companyId: string; state: ReceiverConcurrency; at: number }>();
  private writing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly worker: string,
    private readonly now: () => number,
    private readonly log?: Logger,
  ) {}

  note(endpointId: string, companyId: string, state: ReceiverConcurrency): void {
    this.pending.set(endpointId, { companyId, state, at: this.now() });
    this.writing ??= this.writeAll();
  }

  /** Resolves when every change noted so far is written (or failed). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.pending.size) {
        const batch = [...this.pending];
        this.pending.clear();
        await this.store.db.transaction().execute(async (tx) => {
          for (const [endpointId, { companyId, state, at }] of batch) {
            const values = {
              state: state.state,
              current_limit: state.limit,
              cap: state.cap,
              since: state.since,
              reason: state.reason,
              worker: this.worker,
              updated_at: at,
            };
            await tx
              .insertInto('endpoint_concurrency')
              .values({ endpoint_id: endpointId, company_id: companyId, ...values })
              .onConflict((oc) => oc.column('endpoint_id').doUpdateSet(values))
              .execute();
          }
        });
      }
    } catch (err) {
      this.log?.warn({ err }, 'could not record endpoint concurrency changes');
    } finally {
      this.writing = null;
    }
  }
}
