import { hostname } from 'node:os';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { newId } from '../ids.js';
import type { DomainContext } from '../domain/context.js';
import type { Metrics } from '../metrics.js';
import type { Tx } from '../storage/db.js';
import { sendWebhook, type AttemptOutcome } from './http-sender.js';
import { claimDue, nextDueAt, releaseClaims, releaseOrphanedLeases, type ClaimedDelivery } from './queue/claim-due.js';
import { recordResults, type AttemptResult, type NextState } from './queue/record-results.js';
import type { TargetRegistry } from './targets.js';
import { updateEndpointHealth } from './endpoint-health.js';

export interface DeliveryWorkerOptions {
  ctx: DomainContext;
  targets: TargetRegistry;
  /** The SSRF-guarded undici dispatcher every HTTP attempt goes through. */
  dispatcher: Dispatcher;
  /** Attempts in flight in this process. */
  concurrency: number;
  /** Attempts in flight to one receiver: a slow or dead endpoint can hold at most this many slots. */
  perReceiver: number;
  /** How long a claim is ours; longer than any attempt's timeout, so a live attempt never loses its row. */
  leaseMs?: number;
  /** Longest idle sleep: a safety net under the wake-ups (notify, commit hooks, next-due timer). */
  pollMs?: number;
  log?: Logger;
  metrics?: Metrics;
  /** Told about store failures, so readiness reflects a store the worker cannot write to. */
  onStoreError?: (err: unknown) => void;
  /** Runs in each result transaction with the results it applied (endpoint health, auto-disable). */
  afterBatch?: (tx: Tx, applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>) => Promise<void>;
}

const DEFAULT_LEASE_MS = 60_000;

/**
 * Claims due deliveries from the store, sends them with bounded concurrency and per-receiver caps, and writes
 * every attempt back in batches. Stateless: any number of these, in any number of processes, can share one store.
 */
export class DeliveryWorker {
  readonly owner = `${hostname()}:${process.pid}:${newId('w', 8)}`;
  private inFlight = 0;
  private readonly perGroup = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | null = null;
  private signal: (() => void) | null = null;
  private signalled = false;
  private sleepTimer: NodeJS.Timeout | null = null;
  private readonly settledWaiters: Array<() => void> = [];
  private pending: Array<{ result: AttemptResult; done: () => void; fail: (e: unknown) => void }> = [];
  private flushing: Promise<void> | null = null;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = opts.pollMs ?? 1_000;
  }

  /** Starts the claim loop. On SQLite, leases left by a killed process are given back first. */
  async start(): Promise<void> {
    if (this.running) return;
    const released = await releaseOrphanedLeases(this.opts.ctx.store);
    if (released) this.opts.log?.warn({ released }, 'released deliveries leased by a previous process');
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming and waits for attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.settled();
  }

  /** Something may be due now (a commit created deliveries, a NOTIFY arrived, a slot freed up). */
  wake(): void {
    this.signalled = true;
    if (this.signal) this.signal();
  }

  /**
   * Sends everything due at the clock's current time and waits until every result is recorded; returns the number
   * of attempts made. Tests drive the worker with this and a manual clock instead of waiting for timers.
   */
  async drain(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 10_000; round++) {
      const started = await this.fillSlots();
      total += started;
      if (started === 0 && this.inFlight === 0) return total;
      await this.settled();
    }
    return total;
  }

  /** Resolves when nothing is in flight. */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    while (this.running) {
      let started = 0;
      try {
        started = await this.fillSlots();
      } catch (err) {
        this.opts.onStoreError?.(err);
        this.opts.log?.error({ err }, 'claiming deliveries failed; retrying');
      }
      if (!this.running) break;
      // Every slot taken: a finishing attempt wakes us, so there is nothing to ask the store until then.
      const full = this.inFlight >= this.opts.concurrency;
      if (started > 0 && !full) continue;
      await this.sleep(await this.idleDelay(started > 0 || full));
    }
  }

  private async idleDelay(busy: boolean): Promise<number> {
    if (busy) return this.pollMs; // all slots taken: a finishing attempt will wake us
    try {
      const now = this.opts.ctx.clock.now();
      const next = await nextDueAt(this.opts.ctx.store, now);
      return next === null ? this.pollMs : Math.min(this.pollMs, Math.max(0, next - now));
    } catch {
      return this.pollMs;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        if (this.sleepTimer) clearTimeout(this.sleepTimer);
        this.sleepTimer = null;
        this.signal = null;
        this.signalled = false;
        resolve();
      };
      this.signal = done;
      this.sleepTimer = setTimeout(done, ms);
    });
  }

  /** Claims as many due deliveries as there are free slots and starts them; returns how many started. */
  private async fillSlots(): Promise<number> {
    const free = this.opts.concurrency - this.inFlight;
    if (free <= 0) return 0;
    const cap = this.opts.perReceiver;
    const saturated = [...this.perGroup].filter(([, n]) => n >= cap).map(([g]) => g);
    const claimed = await claimDue(this.opts.ctx.store, {
      now: this.opts.ctx.clock.now(),
      limit: free,
      leaseMs: this.leaseMs,
      owner: this.owner,
      excludeGroups: saturated,
    });
    const giveBack: string[] = [];
    let started = 0;
    for (const item of claimed) {
      const n = this.perGroup.get(item.group) ?? 0;
      if (n >= cap) {
        giveBack.push(item.delivery.id);
        continue;
      }
      this.perGroup.set(item.group, n + 1);
      this.inFlight++;
      started++;
      this.opts.metrics?.inFlight.inc();
      void this.process(item);
    }
    await releaseClaims(this.opts.ctx.store, giveBack, this.owner);
    return started;
  }

  private async process(item: ClaimedDelivery): Promise<void> {
    const { ctx } = this.opts;
    const startedAt = ctx.clock.now();
    let result: AttemptResult;
    try {
      if (item.delivery.attempt_count === 0) {
        this.opts.metrics?.commitToFirstAttempt.observe(Math.max(0, Date.now() - item.delivery.created_at) / 1000);
      }
      const outcome = await this.attempt(item, startedAt);
      result = outcome.kind === 'skip'
        ? { delivery: item.delivery, startedAt, finishedAt: ctx.clock.now(), outcome: null, skipReason: outcome.reason, owner: this.owner }
        : { delivery: item.delivery, startedAt, finishedAt: ctx.clock.now(), outcome: outcome.outcome, owner: this.owner };
      this.observe(item, result);
      await this.record(result);
    } catch (err) {
      this.opts.onStoreError?.(err);
      // The lease runs out and another claim retries the row: at-least-once even when recording fails.
      this.opts.log?.error({ err, delivery_id: item.delivery.id }, 'delivery attempt could not be recorded');
    } finally {
      this.inFlight--;
      this.opts.metrics?.inFlight.dec();
      const n = (this.perGroup.get(item.group) ?? 1) - 1;
      if (n <= 0) this.perGroup.delete(item.group);
      else this.perGroup.set(item.group, n);
      if (this.inFlight === 0) this.settledWaiters.splice(0).forEach((w) => w());
      this.wake();
    }
  }

  private async attempt(item: ClaimedDelivery, now: number): Promise<{ kind: 'skip'; reason: string } | { kind: 'sent'; outcome: AttemptOutcome }> {
    const target = this.opts.targets[item.delivery.target];
    if (!target) return { kind: 'skip', reason: `no target for ${item.delivery.target}` };
    let plan;
    try {
      plan = await target.plan(this.opts.ctx, item.delivery, item.event, now);
    } catch (err) {
      this.opts.log?.error({ err, delivery_id: item.delivery.id }, 'could not prepare delivery');
      return { kind: 'sent', outcome: { ok: false, statusCode: null, durationMs: 0, errorKind: 'other', errorMessage: 'could not prepare the request', responseExcerpt: null, retryAfterMs: null, gone: false } };
    }
    if (plan.kind === 'skip') return { kind: 'skip', reason: plan.reason };
    if (plan.kind === 'custom') return { kind: 'sent', outcome: await plan.send() };
    const outcome = await sendWebhook({ url: plan.url, headers: plan.headers, body: plan.body, timeoutMs: plan.timeoutMs, dispatcher: this.opts.dispatcher });
    return { kind: 'sent', outcome };
  }

  private observe(item: ClaimedDelivery, result: AttemptResult): void {
    const m = this.opts.metrics;
    if (!m || !result.outcome) return;
    m.attempts.inc({ target: item.delivery.target, outcome: result.outcome.ok ? 'success' : (result.outcome.errorKind ?? 'error') });
    m.attemptDuration.observe(result.outcome.durationMs / 1000);
  }

  private readonly afterBatch = async (tx: Tx, applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>): Promise<void> => {
    const dead = applied.filter((a) => a.state.status === 'dead').length;
    if (dead) this.opts.metrics?.deadDeliveries.inc(dead);
    await this.opts.afterBatch?.(tx, applied);
  };

  /** Queues a result for the next batch write and resolves once it is committed. */
  private record(result: AttemptResult): Promise<void> {
    return new Promise((done, fail) => {
      this.pending.push({ result, done, fail });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  // One transaction per batch: results that arrive while a batch is being written go in the next one.
  private async flush(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    while (this.pending.length) {
      const batch = this.pending.splice(0, 200);
      try {
        await recordResults(this.opts.ctx.store, this.opts.ctx.config.retryScheduleMs, batch.map((b) => b.result), this.afterBatch);
        batch.forEach((b) => b.done());
      } catch (err) {
        batch.forEach((b) => b.fail(err));
      }
    }
    this.flushing = null;
  }
}

export interface RunningWorker {
  worker: DeliveryWorker;
  stop(): Promise<void>;
}

/**
 * Wires a worker into a running app: the SSRF-guarded dispatcher, in-process wake-ups after commits, and on
 * PostgreSQL a LISTEN connection so commits in other processes wake it too.
 */
export async function startDeliveryWorker(
  app: import('../app.js').App,
  config: import('../config.js').Config,
  log?: Logger,
  overrides: {
    targets?: TargetRegistry;
    tls?: import('node:tls').ConnectionOptions;
    lookup?: import('./ssrf-guard.js').LookupFn;
    /** false: wire everything but leave the claim loop off (tests drive it with drain()). */
    autoStart?: boolean;
  } = {},
): Promise<RunningWorker> {
  const { SsrfGuard, createGuardedDispatcher } = await import('./ssrf-guard.js');
  const { defaultTargets } = await import('./target-registry.js');
  const dispatcher = createGuardedDispatcher(new SsrfGuard([...config.webhookAllowCidrs]), { tls: overrides.tls, lookup: overrides.lookup });
  const worker = new DeliveryWorker({
    ctx: app.ctx,
    targets: overrides.targets ?? defaultTargets(),
    dispatcher,
    concurrency: config.workerConcurrency,
    perReceiver: config.perEndpointConcurrency,
    leaseMs: config.leaseMs,
    log,
    metrics: app.metrics,
    afterBatch: updateEndpointHealth(app.ctx, log),
    onStoreError: (err) => app.http.storeAvailability?.noteError(err),
  });
  app.onWake(() => worker.wake());
  let listener: { stop(): Promise<void> } | null = null;
  if (app.ctx.store.profile.listenNotify && config.databaseUrl) {
    const { listenForDeliveries } = await import('./pg-wakeup.js');
    listener = listenForDeliveries(config.databaseUrl, app.ctx.store.pgSchema, () => worker.wake(), (err) => log?.warn({ err: err.message }, 'delivery LISTEN connection lost; reconnecting'));
  }
  if (overrides.autoStart !== false) await worker.start();
  let stopping: Promise<void> | null = null;
  return {
    worker,
    stop() {
      stopping ??= (async () => {
        await listener?.stop();
        await worker.stop();
        await dispatcher.close();
      })();
      return stopping;
    },
  };
}
