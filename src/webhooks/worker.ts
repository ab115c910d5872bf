import { performance } from 'node:perf_hooks';
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DomainContext } from '../domain/context.js';
import { newId } from '../ids.js';
import type { Metrics } from '../metrics.js';
import { tracingEnabled } from '../tracing.js';
import type { AttemptResult } from '../queue/attempt.js';
import { claim, WALK_START, type WalkPosition } from '../queue/claim.js';
import { nextDueAt } from '../queue/next-due.js';
import { record, type AfterResults } from '../queue/record.js';
import { release, releaseOrphanedLeases } from '../queue/release.js';
import type { WakeChannel } from '../queue/wakeup.js';
import { ConcurrencyPublisher } from './endpoint-concurrency.js';
import { holdOnRetryAfter, pace } from './endpoint-pacing.js';
import { updateEndpointHealth } from './endpoint-health.js';
import { createGuardedDispatcher, SsrfGuard, type LookupFn } from './ssrf-guard.js';
import { BrokerSenders } from './brokers/broker-sender.js';
import type { TargetRegistry } from './targets.js';
import { attemptDelivery, prepareBatch, type AttemptDeps, type HeldDelivery } from './worker/attempt.js';
import { loadTraceContexts, tracedAttempt } from './worker/attempt-trace.js';
import { AdaptiveLimits, type ReceiverConcurrency } from './worker/adaptive-limits.js';
import { FairQueues } from './worker/fair-queues.js';
import { ResultWriter } from './worker/result-writer.js';
import { SlowAttempts } from './worker/slow-attempts.js';

export interface DeliveryWorkerOptions extends AttemptDeps {
  /** Attempts in flight in this process. */
  concurrency: number;
  /**
   * Attempts in flight to one receiver at most (its cap): a slow or dead receiver can hold at most this many slots,
   * and a failing one is narrowed below it (AdaptiveLimits).
   */
  perReceiver: number;
  /** Attempts in flight for one company at most (default: half the concurrency, rounded up). */
  perCompany?: number;
  /** How long a claim is ours; longer than any attempt's timeout, so a live attempt never loses its row. */
  leaseMs: number;
  /** Longest idle sleep: a safety net under the wake-ups (notify, commits, next-due timer). */
  pollMs?: number;
  metrics?: Metrics;
  /** Readiness: told about each store failure, so the service reports a store the worker cannot write to. */
  onStoreError?: (err: unknown) => void;
  /** Runs in each result transaction with the results it applied (endpoint health, auto-disable). */
  afterResults?: AfterResults;
}

/** Claimed rows held per receiver and per company (sending and waiting), in multiples of their in-flight limit. */
const HELD_PER_SLOT = 4;
/**
 * Rows one claim takes of a receiver and of a company, in multiples of their in-flight limit: two, so a company is
 * claimed for once per two slots' worth of finished attempts and each claim's transaction carries that many rows.
 */
const CLAIMED_PER_SLOT = 2;
const DEFAULT_POLL_MS = 1_000;
/** A receiver whose every allowed slot has had no attempt begin or end for this long gives its waiting rows back. */
const STALL_AFTER_MS = 2_000;

/**
 * - `idle`: made, loop off; drain() sends what is due (tests drive the worker this way with a manual clock).
 * - `starting`: start() gives back leases a killed process left (SQLite) before the loop runs.
 * - `running`: the loop claims whenever there is room and work.
 * - `draining`: stop() was called: nothing new starts, not even rows already claimed (they are given back); the
 *   attempts in flight finish and are recorded.
 * - `stopped`: nothing in flight; start() may run it again.
 */
export type WorkerState = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

/**
 * Claims due deliveries from the queue, sends them with bounded concurrency, fairly across companies and then
 * across each company's receivers, and writes every attempt back in batches. Any number of these, in any number of
 * processes, can share one store; each keeps only its own schedule and its receivers' adaptive limits in memory.
 *
 * Its parts, each batched so the store sees few, large statements rather than one per delivery:
 * - the claimed rows, per company and receiver (FairQueues): up to four concurrencies' worth with those sending, so
 *   a claim is made for a hundred rows or more and a finishing attempt can start the next one at once;
 * - the attempts in flight: at most `concurrency`, less those gone slow (SlowAttempts); `perCompany` per company;
 *   per receiver its adaptive limit (AdaptiveLimits), `perReceiver` at most and narrowed while it fails;
 * - the results waiting for their transaction (ResultWriter);
 * - a short loop that claims when there is room and otherwise sleeps until woken or the next row falls due.
 */
export class DeliveryWorker {
  readonly owner = `${hostname()}:${process.pid}:${newId('w', 8)}`;
  private current: WorkerState = 'idle';
  private readonly receivers: FairQueues<HeldDelivery>;
  private readonly limits: AdaptiveLimits;
  private readonly published: ConcurrencyPublisher;
  private readonly slow: SlowAttempts<HeldDelivery>;
  private readonly results: ResultWriter;
  private inFlight = 0;
  /** Attempts started since this worker was made (drain() reports its share). */
  private begun = 0;
  private readonly settledWaiters: Array<() => void> = [];
  private loop: Promise<void> | null = null;
  private readonly sleeper = new Sleeper();
  private readonly pollMs: number;
  /**
   * After a claim that came back short (everything claimable was taken): the receivers and companies it left out,
   * and when. Until something is committed (wake()), the poll interval passes or the left-out set changes, another
   * claim would find nothing new, so none is made; with a company's large backlog left out, each claim is a scan
   * past that backlog, and every attempt ending would otherwise pay one.
   */
  private lastShort: { key: string; at: number } | null = null;
  /** Where the last claim's walk over receivers stopped: the next one starts after it, so receivers take turns. */
  private walkedTo: WalkPosition = WALK_START;
  /** Endpoints whose rate window is full or that are held, until when: left out of this worker's claims. */
  private readonly paused = new Map<string, number>();

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    const clock = opts.ctx.clock;
    this.published = new ConcurrencyPublisher(opts.ctx.store, this.owner, () => clock.now(), opts.log);
    this.limits = new AdaptiveLimits(opts.perReceiver, () => clock.now());
    this.receivers = new FairQueues({
      companyCap: opts.perCompany ?? defaultCompanyConcurrency(opts.concurrency),
      receiverLimit: (receiver) => this.limits.limit(receiver),
      heldPerSlot: HELD_PER_SLOT,
      claimPerSlot: CLAIMED_PER_SLOT,
    });
    this.slow = new SlowAttempts(opts.concurrency, () => {
      this.startWaiting();
      this.sleeper.wake();
    });
    this.results = new ResultWriter({
      write: (batch) => this.write(batch),
      busy: () => this.counted >= opts.concurrency / 2,
      written: () => {
        this.notifySettled();
        if (this.roomToClaim()) this.sleeper.wake();
      },
    });
  }

  get state(): WorkerState {
    return this.current;
  }

  /** Rows claimed but not yet sending, plus those sending: a claim tops this up to four times the concurrency. */
  private get window(): number {
    return this.opts.concurrency * 4;
  }

  /** Attempts in flight that count against the concurrency. */
  private get counted(): number {
    return this.inFlight - this.slow.count;
  }

  /** Whether rows may start and be claimed: not once stop() was called. */
  private get sending(): boolean {
    return this.current === 'idle' || this.current === 'starting' || this.current === 'running';
  }

  /** Starts the claim loop. On SQLite, leases left by a killed process are given back first. */
  async start(): Promise<void> {
    if (this.current === 'starting' || this.current === 'running') return;
    this.current = 'starting';
    const released = await releaseOrphanedLeases(this.opts.ctx.store);
    if (released) this.opts.log?.warn({ released }, 'released deliveries leased by a previous process');
    if (this.current !== 'starting') return;
    this.current = 'running';
    this.slow.start();
    this.loop = this.run();
  }

  /** Stops claiming, gives back rows claimed but not started, and waits for attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.current = 'draining';
    this.slow.stop();
    this.wake();
    await this.loop;
    this.loop = null;
    await this.giveBack(this.receivers.takeAll());
    await this.settled();
    await this.published.flushed();
    this.current = 'stopped';
  }

  /** Something may be due now (a commit created deliveries, a NOTIFY arrived). */
  wake(): void {
    this.lastShort = null;
    this.sleeper.wake();
  }

  /**
   * Sends everything due at the clock's current time and waits until every result is recorded; returns the number
   * of attempts made. Tests drive the worker with this and a manual clock instead of waiting for timers.
   */
  async drain(): Promise<number> {
    const before = this.begun;
    for (let round = 0; round < 10_000; round++) {
      this.lastShort = null;
      const started = await this.fillSlots();
      if (started === 0 && this.idle()) break;
      await this.settled();
    }
    return this.begun - before;
  }

  /** A receiver's adaptive concurrency as this worker holds it now. */
  concurrencyOf(receiver: string): ReceiverConcurrency {
    return this.limits.get(receiver);
  }

  /** Resolves when every concurrency change seen so far is written to the store. */
  concurrencyPublished(): Promise<void> {
    return this.published.flushed();
  }

  /** Resolves when nothing is in flight and every finished attempt is recorded. */
  settled(): Promise<void> {
    if (this.inFlight === 0 && this.results.backlog === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private idle(): boolean {
    return this.inFlight === 0 && this.results.backlog === 0 && this.receivers.waitingCount === 0;
  }

  private notifySettled(): void {
    if (this.inFlight === 0 && this.results.backlog === 0) this.settledWaiters.splice(0).forEach((w) => w());
  }

  private async run(): Promise<void> {
    while (this.current === 'running') {
      let started = 0;
      try {
        started = await this.fillSlots();
      } catch (err) {
        this.opts.onStoreError?.(err);
        this.opts.log?.error({ err }, 'claiming deliveries failed; retrying');
      }
      if (this.current !== 'running') break;
      // A full buffer, results waiting to be written, or receivers at their cap: a finishing attempt or write wakes
      // us, so there is nothing to ask the store until then (asking when the next row falls due reads every unsettled
      // row, and a dead endpoint's backlog made that a few milliseconds per idle turn).
      const busy = !this.roomToClaim() || this.receivers.anySending;
      if (started > 0 && !busy) continue;
      // A sleep that ran out (the poll, or the next row falling due) is a reason to claim again like a wake-up.
      if (!(await this.sleeper.sleep(await this.idleDelay(started > 0 || busy)))) this.lastShort = null;
    }
  }

  /**
   * How long to sleep when idle: until the next row this worker would claim falls due, or a paused endpoint's time
   * comes, at most the poll. A paused endpoint's rows are due in the store but left out of the claims until then.
   * Public for the tests that hold it to that.
   */
  async idleDelay(busy: boolean): Promise<number> {
    if (busy) return this.pollMs;
    try {
      const now = this.opts.ctx.clock.now();
      const paused = this.pausedNow();
      let wake = now + this.pollMs;
      for (const id of paused) wake = Math.min(wake, this.paused.get(id)!);
      const next = await nextDueAt(this.opts.ctx.store, now, paused);
      if (next !== null) wake = Math.min(wake, next);
      return Math.max(0, wake - now);
    } catch {
      return this.pollMs;
    }
  }

  /**
   * Whether a claim is worth making: fewer startable rows wait than there are slots, the window has room for a
   * quarter of itself (or nothing could start without a claim), and the result writer is keeping up. Each claim is a
   * write transaction: claims of a few rows, one per finished attempt, cost more in commits than the rows they took.
   */
  private roomToClaim(): boolean {
    if (this.results.backlog >= this.window * 2) return false;
    const startable = this.receivers.startable();
    if (startable >= this.opts.concurrency) return false;
    const room = this.window - this.counted - this.receivers.waitingCount;
    return room >= this.window / 4 || (startable === 0 && room > 0);
  }

  /** Starts what the claimed rows allow, then claims more if there is room; returns how many attempts started. */
  private async fillSlots(): Promise<number> {
    await this.giveBack(this.receivers.takeStalled(STALL_AFTER_MS));
    let started = this.startWaiting();
    if (!this.sending || !this.roomToClaim()) return started;
    const saturated = this.receivers.saturated();
    saturated.receivers.push(...this.pausedNow());
    const key = `${saturated.receivers.sort().join(',')}|${saturated.companies.sort().join(',')}`;
    const at = performance.now();
    if (this.lastShort && this.lastShort.key === key && at - this.lastShort.at < this.pollMs) return started;
    const limit = this.window - this.counted - this.receivers.waitingCount;
    const { deliveries: claimed, stoppedAt } = await claim(this.opts.ctx.store, {
      now: this.opts.ctx.clock.now(),
      limit,
      leaseMs: this.opts.leaseMs,
      owner: this.owner,
      excludeReceivers: saturated.receivers,
      excludeCompanies: saturated.companies,
      perCompany: this.receivers.companyClaimMax,
      // The claim takes one number for every receiver: what one at the configured limit may take.
      perReceiver: this.receivers.claimRowsFor(this.opts.perReceiver),
      after: this.walkedTo,
    });
    this.walkedTo = stoppedAt;
    this.lastShort = claimed.length < limit ? { key, at } : null;
    let paced: HeldDelivery[];
    try {
      const { go, paused } = await pace(this.opts.ctx.store, this.owner, this.opts.ctx.clock.now(), claimed);
      for (const [endpointId, until] of paused) this.paused.set(endpointId, until);
      paced = go;
    } catch (err) {
      await this.giveBack(claimed);
      throw err;
    }
    const { kept, excess } = this.receivers.split(paced);
    await this.giveBack(excess);
    try {
      await prepareBatch(this.opts, kept);
      if (tracingEnabled()) await loadTraceContexts(this.opts.ctx.store, kept);
    } catch (err) {
      await this.giveBack(kept);
      throw err;
    }
    this.receivers.add(kept);
    started += this.startWaiting();
    return started;
  }

  /** The paused endpoints whose time has not come yet; the others are forgotten. */
  private pausedNow(): string[] {
    const now = this.opts.ctx.clock.now();
    const out: string[] = [];
    for (const [endpointId, until] of this.paused) {
      if (until > now) out.push(endpointId);
      else this.paused.delete(endpointId);
    }
    return out;
  }

  /**
   * Starts waiting rows while slots are free. A row that waited so long that less than half its lease is left is
   * given back instead: its attempt could outlive the lease and another worker would send it too.
   */
  private startWaiting(): number {
    if (!this.sending || this.receivers.waitingCount === 0 || this.counted >= this.opts.concurrency) return 0;
    const now = this.opts.ctx.clock.now();
    const stale: HeldDelivery[] = [];
    const started = this.receivers.takeInTurn(
      () => this.counted < this.opts.concurrency,
      (item) => {
        if ((item.delivery.lease_until ?? 0) - now < this.opts.leaseMs / 2) {
          stale.push(item);
          return false;
        }
        this.begin(item);
        return true;
      },
    );
    if (stale.length) void this.giveBack(stale);
    return started;
  }

  private async giveBack(items: readonly HeldDelivery[]): Promise<void> {
    if (!items.length) return;
    try {
      await release(
        this.opts.ctx.store,
        items.map((i) => i.delivery.id),
        this.owner,
      );
    } catch (err) {
      // Not fatal: the leases run out and the rows are claimed again.
      this.opts.onStoreError?.(err);
      this.opts.log?.warn(
        { err, count: items.length },
        'could not give back claimed deliveries; their leases will expire',
      );
    }
  }

  private begin(item: HeldDelivery): void {
    this.inFlight++;
    this.begun++;
    this.slow.began(item);
    this.receivers.began(item);
    this.opts.metrics?.inFlight.inc();
    void this.send(item);
  }

  private async send(item: HeldDelivery): Promise<void> {
    const m = this.opts.metrics;
    let result: AttemptResult | null = null;
    // The receiver's state as the attempt starts: the failure ratio per state shows whether narrowing works.
    const receiverState = m ? this.limits.get(item.receiver).state : 'open';
    try {
      if (item.delivery.attempt_count === 0)
        m?.commitToFirstAttempt.observe(Math.max(0, Date.now() - item.delivery.created_at) / 1000);
      result = tracingEnabled()
        ? await tracedAttempt(item, () => attemptDelivery(this.opts, item, this.owner))
        : await attemptDelivery(this.opts, item, this.owner);
      if (m && result.outcome) {
        m.attempts.inc({
          target: item.delivery.target,
          outcome: result.outcome.ok ? 'success' : (result.outcome.errorKind ?? 'error'),
          receiver_state: receiverState,
        });
        m.attemptDuration.observe(result.outcome.durationMs / 1000);
      }
    } catch (err) {
      // The lease runs out and another claim retries the row.
      this.opts.log?.error({ err, delivery_id: item.delivery.id }, 'delivery attempt failed unexpectedly');
    } finally {
      if (result) this.results.add(result);
      this.inFlight--;
      this.slow.ended(item);
      m?.inFlight.dec();
      this.receivers.ended(item);
      if (result) this.adapt(item, result);
      this.startWaiting();
      this.notifySettled();
      // The loop only needs a turn when a claim is due; waking it after every attempt cost a turn per delivery.
      if (this.roomToClaim()) this.sleeper.wake();
    }
  }

  /** The receiver's limit learns from the attempt; a change to an endpoint's is published for the API. */
  private adapt(item: HeldDelivery, result: AttemptResult): void {
    const before = this.limits.get(item.receiver);
    this.limits.observe(item.receiver, result.outcome);
    const after = this.limits.get(item.receiver);
    if (after.limit === before.limit && after.state === before.state) return;
    if (item.delivery.endpoint_id) this.published.note(item.delivery.endpoint_id, item.company, after);
  }

  /** One batch of results in one transaction; a failure is not thrown (the leases make the rows come back). */
  private async write(batch: AttemptResult[]): Promise<void> {
    this.wakeAfterWrite = new Set();
    try {
      const applied = await record(this.opts.ctx.store, this.opts.ctx.config.retryScheduleMs, batch, this.afterResults);
      // An ordered row settled (or failed) lets the next of its complaint be claimed: worth a claim at once.
      if (applied.some((r) => r.delivery.order_key !== null)) this.lastShort = null;
      // Operational events written with the results made deliveries of their own.
      for (const channel of this.wakeAfterWrite) this.opts.ctx.wakeups.signal(channel);
    } catch (err) {
      this.opts.onStoreError?.(err);
      // The leases run out and other claims retry these rows: at-least-once even when recording fails.
      this.opts.log?.error({ err, deliveries: batch.length }, 'delivery results could not be recorded');
    }
  }

  /** Channels to wake after the batch being written commits (one write at a time, so one set). */
  private wakeAfterWrite = new Set<WakeChannel>();

  private readonly afterResults: AfterResults = async (tx, applied) => {
    await holdOnRetryAfter(tx, applied);
    const wake = await this.opts.afterResults?.(tx, applied);
    if (wake) this.wakeAfterWrite = new Set(wake);
    // Counted after the statements that may refuse the batch (a row that moved partitions, record.ts), so a batch
    // that runs again is counted once.
    const dead = applied.filter((a) => a.state.status === 'dead').length;
    if (dead) this.opts.metrics?.deadDeliveries.inc(dead);
  };
}

/**
 * The loop's sleep: ends at its timeout or at the first wake(); a wake() while awake ends the next sleep at once.
 * Resolves true when woken, false when the time ran out.
 */
class Sleeper {
  private signal: (() => void) | null = null;
  private signalled = false;

  wake(): void {
    this.signalled = true;
    this.signal?.();
  }

  sleep(ms: number): Promise<boolean> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.signal = null;
        this.signalled = false;
        resolve(woken);
      };
      this.signal = () => done(true);
      const timer = setTimeout(() => done(false), ms);
    });
  }
}

/** One company's attempts in flight by default: half the worker's, so another company always finds slots. */
function defaultCompanyConcurrency(concurrency: number): number {
  return Math.max(1, Math.ceil(concurrency / 2));
}

export interface RunningWorker {
  worker: DeliveryWorker;
  stop(): Promise<void>;
}

export interface StartDeliveryWorkerOptions {
  ctx: DomainContext;
  config: Pick<
    Config,
    'webhookAllowCidrs' | 'workerConcurrency' | 'perEndpointConcurrency' | 'leaseMs' | 'companyConcurrency'
  >;
  /** Every kind of delivery target this worker sends (company endpoints, Shield destinations). */
  targets: TargetRegistry;
  log?: Logger;
  metrics?: Metrics;
  /** Readiness: told about each store failure the worker meets. */
  onStoreError?: (err: unknown) => void;
  /** TLS options and a DNS lookup for the guarded dispatcher (tests: a private CA, fixed answers). */
  tls?: ConnectionOptions;
  lookup?: LookupFn;
  /** false: wire everything but leave the claim loop off (tests drive it with drain()). */
  autoStart?: boolean;
}

/**
 * Wires a worker: the SSRF-guarded dispatcher, endpoint health after each result batch, and the wake-ups (after
 * this process's commits, and on PostgreSQL other processes' through LISTEN).
 */
export async function startDeliveryWorker(opts: StartDeliveryWorkerOptions): Promise<RunningWorker> {
  const { ctx, config } = opts;
  const guard = new SsrfGuard([...config.webhookAllowCidrs]);
  const dispatcher = createGuardedDispatcher(guard, {
    tls: opts.tls,
    lookup: opts.lookup,
  });
  const brokers = new BrokerSenders(guard, { lookup: opts.lookup, tls: opts.tls });
  const worker = new DeliveryWorker({
    ctx,
    targets: opts.targets,
    dispatcher,
    brokers,
    concurrency: config.workerConcurrency,
    perReceiver: config.perEndpointConcurrency,
    perCompany: config.companyConcurrency,
    leaseMs: config.leaseMs,
    log: opts.log,
    metrics: opts.metrics,
    afterResults: updateEndpointHealth(ctx, opts.log),
    onStoreError: opts.onStoreError,
  });
  const wakeups = ctx.wakeups.subscribe('deliveries', () => worker.wake());
  if (opts.autoStart !== false) await worker.start();
  let stopping: Promise<void> | null = null;
  return {
    worker,
    stop() {
      stopping ??= (async () => {
        // The worker first: from this call on nothing new starts, whatever the LISTEN connection takes to close.
        await Promise.all([worker.stop(), wakeups.close()]);
        await Promise.all([dispatcher.close(), brokers.close()]);
      })();
      return stopping;
    },
  };
}
