import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
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
/** Results written per transaction at most. */
const RESULT_BATCH = 500;
/**
 * While attempts are finishing fast, a result write waits up to this long for this many results, so the store sees
 * a few large transactions rather than many small ones. A quiet worker (fewer attempts in flight) writes at once.
 */
const RESULT_GATHER_MS = 8;
const RESULT_GATHER_COUNT = 256;
/** Claimed rows held per receiver (sending and waiting), in multiples of its per-receiver cap. */
const HELD_PER_RECEIVER = 4;
/**
 * An attempt still waiting for its answer after this long stops counting against the worker's concurrency (it
 * still counts against its receiver's cap), up to one concurrency's worth of such attempts: a receiver that hangs
 * until its timeout (up to 30 s) would otherwise hold its cap of slots, 8 of 64 by default, away from every other
 * receiver for as long as it stays down.
 */
const SLOW_AFTER_MS = 250;

/**
 * Claims due deliveries from the store, sends them with bounded concurrency and per-receiver caps, and writes
 * every attempt back in batches. Stateless: any number of these, in any number of processes, can share one store.
 *
 * Three stages, each batched so the store sees few, large statements rather than one per delivery:
 * - **claimed**: rows leased by this worker and waiting for a slot — up to four concurrencies' worth with those
 *   sending, so a claim is made for a hundred rows or more and a finishing attempt can start the next one at once;
 * - **sending**: at most `concurrency` attempts in flight, `perReceiver` per receiver;
 * - **recording**: finished attempts waiting for their result transaction. An attempt gives its slot back when its
 *   response is in, not when its result is committed; the lease still covers the row until then, and a crash before
 *   the commit means the row is sent again when the lease runs out (at-least-once).
 */
export class DeliveryWorker {
  readonly owner = `${hostname()}:${process.pid}:${newId('w', 8)}`;
  private inFlight = 0;
  /** Attempts in flight for longer than SLOW_AFTER_MS, which no longer count against the concurrency. */
  private slow = 0;
  private readonly sendingSince = new Map<ClaimedDelivery, { at: number; slow: boolean }>();
  private slowSweep: NodeJS.Timeout | null = null;
  /** Attempts started since this worker was made (drain() reports its share). */
  private begun = 0;
  /** Attempts in flight per receiver, for its cap. */
  private readonly sendingByGroup = new Map<string, number>();
  /** Claimed rows waiting for a slot, per receiver, in claim order; the map's order is the round-robin order. */
  private readonly waiting = new Map<string, ClaimedDelivery[]>();
  private waitingCount = 0;
  private running = false;
  /** Set by stop(): nothing more starts, not even rows already claimed. */
  private stopping = false;
  private loop: Promise<void> | null = null;
  private signal: (() => void) | null = null;
  private signalled = false;
  private sleepTimer: NodeJS.Timeout | null = null;
  private readonly settledWaiters: Array<() => void> = [];
  private pending: AttemptResult[] = [];
  /** Results handed to recording and not yet committed (queued or in the transaction being written). */
  private unrecorded = 0;
  private flushing: Promise<void> | null = null;
  /** Ends a result write's wait for more results early (enough have gathered). */
  private gathered: (() => void) | null = null;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = opts.pollMs ?? 1_000;
  }

  /** Rows claimed but not yet sending, plus those sending: a claim tops this up to four times the concurrency. */
  private get window(): number {
    return this.opts.concurrency * 4;
  }

  /** Starts the claim loop. On SQLite, leases left by a killed process are given back first. */
  async start(): Promise<void> {
    if (this.running) return;
    this.stopping = false;
    const released = await releaseOrphanedLeases(this.opts.ctx.store);
    if (released) this.opts.log?.warn({ released }, 'released deliveries leased by a previous process');
    this.running = true;
    this.slowSweep = setInterval(() => this.sweepSlow(), SLOW_AFTER_MS / 2);
    this.slowSweep.unref();
    this.loop = this.run();
  }

  /** Stops claiming, gives back rows claimed but not started, and waits for attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.slowSweep) clearInterval(this.slowSweep);
    this.slowSweep = null;
    this.wake();
    await this.loop;
    await this.giveBack(this.takeAllClaimed());
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
    const before = this.begun;
    for (let round = 0; round < 10_000; round++) {
      const started = await this.fillSlots();
      if (started === 0 && this.idle()) break;
      await this.settled();
    }
    return this.begun - before;
  }

  /** Resolves when nothing is in flight and every finished attempt is recorded. */
  settled(): Promise<void> {
    if (this.inFlight === 0 && this.unrecorded === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Attempts in flight that count against the concurrency. */
  private get counted(): number {
    return this.inFlight - this.slow;
  }

  /** Lets attempts that have waited SLOW_AFTER_MS for an answer stop counting against the concurrency. */
  private sweepSlow(): void {
    const now = performance.now();
    let freed = 0;
    for (const since of this.sendingSince.values()) {
      if (this.slow >= this.opts.concurrency) break;
      if (since.slow || now - since.at < SLOW_AFTER_MS) continue;
      since.slow = true;
      this.slow++;
      freed++;
    }
    if (freed) {
      this.startClaimed();
      this.wake();
    }
  }

  private idle(): boolean {
    return this.inFlight === 0 && this.unrecorded === 0 && this.waitingCount === 0;
  }

  private notifySettled(): void {
    if (this.inFlight === 0 && this.unrecorded === 0) this.settledWaiters.splice(0).forEach((w) => w());
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
      // A full buffer, results waiting to be written, or receivers at their cap: a finishing attempt or write wakes
      // us, so there is nothing to ask the store until then (asking when the next row falls due reads every unsettled
      // row, and a dead endpoint's backlog made that a few milliseconds per idle turn).
      const busy = !this.roomToClaim() || this.sendingByGroup.size > 0;
      if (started > 0 && !busy) continue;
      await this.sleep(await this.idleDelay(started > 0 || busy));
    }
  }

  private async idleDelay(busy: boolean): Promise<number> {
    if (busy) return this.pollMs;
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

  /**
   * Whether a claim is worth making: fewer startable rows wait than there are slots (so a claim takes a hundred
   * rows or more, not one per finished attempt) and the result writer is keeping up.
   */
  private roomToClaim(): boolean {
    if (this.unrecorded >= this.window * 2) return false;
    return this.waitingToStart() < this.opts.concurrency && this.counted + this.waitingCount < this.window;
  }

  /** Starts what the buffer allows, then claims more if there is room; returns how many attempts started. */
  private async fillSlots(): Promise<number> {
    let started = this.startClaimed();
    if (this.stopping) return started;
    if (!this.roomToClaim()) return started;
    const cap = this.opts.perReceiver;
    // Receivers that have enough are left out of the claim, and their rows stay for other workers: those with a cap's
    // worth of rows already waiting, and those holding their full share. Without the first, a receiver that hangs
    // (its rows pile up at the front of the due order) came back into every claim as soon as one of its attempts
    // ended, and each such claim was mostly its rows, given straight back: a fifth of the healthy throughput.
    const groups = new Set([...this.waiting.keys(), ...this.sendingByGroup.keys()]);
    const saturated = [...groups].filter(
      (g) => (this.waiting.get(g)?.length ?? 0) >= cap || this.held(g) >= cap * HELD_PER_RECEIVER,
    );
    const claimed = await claimDue(this.opts.ctx.store, {
      now: this.opts.ctx.clock.now(),
      limit: this.window - this.counted - this.waitingCount,
      leaseMs: this.leaseMs,
      owner: this.owner,
      excludeGroups: saturated,
    });
    const excess: ClaimedDelivery[] = [];
    const kept: ClaimedDelivery[] = [];
    const held = new Map<string, number>();
    for (const item of claimed) {
      const n = held.get(item.group) ?? this.held(item.group);
      held.set(item.group, n + 1);
      (n >= cap * HELD_PER_RECEIVER ? excess : kept).push(item);
    }
    await this.giveBack(excess);
    try {
      await this.prepare(kept);
    } catch (err) {
      await this.giveBack(kept);
      throw err;
    }
    for (const item of kept) {
      const queue = this.waiting.get(item.group);
      if (queue) queue.push(item);
      else this.waiting.set(item.group, [item]);
    }
    this.waitingCount += kept.length;
    started += this.startClaimed();
    return started;
  }

  /** Lets each target read what the batch needs in one query (DeliveryTarget.prepare). */
  private async prepare(items: ClaimedDelivery[]): Promise<void> {
    const byTarget = new Map<string, ClaimedDelivery[]>();
    for (const item of items) {
      const list = byTarget.get(item.delivery.target);
      if (list) list.push(item);
      else byTarget.set(item.delivery.target, [item]);
    }
    await Promise.all(
      [...byTarget].map(async ([name, list]) => {
        const target = this.opts.targets[name];
        if (!target?.prepare) return;
        const prepared = await target.prepare(
          this.opts.ctx,
          list.map((i) => i.delivery),
        );
        for (const item of list) item.prepared = prepared;
      }),
    );
  }

  /** Waiting rows whose receiver is below its cap: what the next free slots can start (a capped receiver's do not). */
  private waitingToStart(): number {
    let n = 0;
    for (const [group, queue] of this.waiting)
      if ((this.sendingByGroup.get(group) ?? 0) < this.opts.perReceiver) n += queue.length;
    return n;
  }

  /** Rows of this receiver claimed by this worker: sending or waiting. */
  private held(group: string): number {
    return (this.waiting.get(group)?.length ?? 0) + (this.sendingByGroup.get(group) ?? 0);
  }

  /**
   * Starts waiting rows while slots are free, taking receivers in turn and skipping those at their cap. A row that
   * waited so long that less than half its lease is left is given back instead: its attempt could outlive the lease
   * and another worker would send it too.
   */
  private startClaimed(): number {
    if (this.stopping || this.waitingCount === 0 || this.counted >= this.opts.concurrency) return 0;
    const now = this.opts.ctx.clock.now();
    const cap = this.opts.perReceiver;
    const stale: ClaimedDelivery[] = [];
    let started = 0;
    const served: string[] = [];
    for (const [group, queue] of this.waiting) {
      if (this.counted >= this.opts.concurrency) break;
      let sending = this.sendingByGroup.get(group) ?? 0;
      while (queue.length && this.counted < this.opts.concurrency && sending < cap) {
        const item = queue.shift()!;
        this.waitingCount--;
        if ((item.delivery.lease_until ?? 0) - now < this.leaseMs / 2) {
          stale.push(item);
          continue;
        }
        this.begin(item);
        sending++;
        started++;
      }
      served.push(group);
    }
    // The receivers just served go to the back of the turn order (or leave it, with nothing left waiting).
    for (const group of served) {
      const queue = this.waiting.get(group)!;
      this.waiting.delete(group);
      if (queue.length) this.waiting.set(group, queue);
    }
    if (stale.length) void this.giveBack(stale);
    return started;
  }

  private takeAllClaimed(): ClaimedDelivery[] {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.waitingCount = 0;
    return all;
  }

  private async giveBack(items: readonly ClaimedDelivery[]): Promise<void> {
    if (!items.length) return;
    try {
      await releaseClaims(
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

  private begin(item: ClaimedDelivery): void {
    this.inFlight++;
    this.begun++;
    if (this.slowSweep) this.sendingSince.set(item, { at: performance.now(), slow: false });
    bump(this.sendingByGroup, item.group, 1);
    this.opts.metrics?.inFlight.inc();
    void this.process(item);
  }

  private async process(item: ClaimedDelivery): Promise<void> {
    const { ctx } = this.opts;
    const startedAt = ctx.clock.now();
    let result: AttemptResult | null = null;
    try {
      if (item.delivery.attempt_count === 0) {
        this.opts.metrics?.commitToFirstAttempt.observe(Math.max(0, Date.now() - item.delivery.created_at) / 1000);
      }
      const outcome = await this.attempt(item, startedAt);
      result =
        outcome.kind === 'skip'
          ? {
              delivery: item.delivery,
              startedAt,
              finishedAt: ctx.clock.now(),
              outcome: null,
              skipReason: outcome.reason,
              owner: this.owner,
            }
          : {
              delivery: item.delivery,
              startedAt,
              finishedAt: ctx.clock.now(),
              outcome: outcome.outcome,
              owner: this.owner,
            };
      this.observe(item, result);
    } catch (err) {
      // The lease runs out and another claim retries the row.
      this.opts.log?.error({ err, delivery_id: item.delivery.id }, 'delivery attempt failed unexpectedly');
    } finally {
      if (result) this.record(result);
      this.inFlight--;
      if (this.sendingSince.get(item)?.slow) this.slow--;
      this.sendingSince.delete(item);
      this.opts.metrics?.inFlight.dec();
      bump(this.sendingByGroup, item.group, -1);
      this.startClaimed();
      this.notifySettled();
      // The loop only needs a turn when a claim is due; waking it after every attempt cost a turn per delivery.
      if (this.roomToClaim()) this.wake();
    }
  }

  private async attempt(
    item: ClaimedDelivery,
    now: number,
  ): Promise<{ kind: 'skip'; reason: string } | { kind: 'sent'; outcome: AttemptOutcome }> {
    const target = this.opts.targets[item.delivery.target];
    if (!target) return { kind: 'skip', reason: `no target for ${item.delivery.target}` };
    let plan;
    try {
      plan = await target.plan(this.opts.ctx, item.delivery, item.event, now, item.prepared);
    } catch (err) {
      this.opts.log?.error({ err, delivery_id: item.delivery.id }, 'could not prepare delivery');
      return {
        kind: 'sent',
        outcome: {
          ok: false,
          statusCode: null,
          durationMs: 0,
          errorKind: 'other',
          errorMessage: 'could not prepare the request',
          responseExcerpt: null,
          retryAfterMs: null,
          gone: false,
        },
      };
    }
    if (plan.kind === 'skip') return { kind: 'skip', reason: plan.reason };
    if (plan.kind === 'custom') return { kind: 'sent', outcome: await plan.send() };
    const outcome = await sendWebhook({
      url: plan.url,
      headers: plan.headers,
      body: plan.body,
      timeoutMs: plan.timeoutMs,
      dispatcher: this.opts.dispatcher,
    });
    return { kind: 'sent', outcome };
  }

  private observe(item: ClaimedDelivery, result: AttemptResult): void {
    const m = this.opts.metrics;
    if (!m || !result.outcome) return;
    m.attempts.inc({
      target: item.delivery.target,
      outcome: result.outcome.ok ? 'success' : (result.outcome.errorKind ?? 'error'),
    });
    m.attemptDuration.observe(result.outcome.durationMs / 1000);
  }

  private readonly afterBatch = async (
    tx: Tx,
    applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>,
  ): Promise<void> => {
    const dead = applied.filter((a) => a.state.status === 'dead').length;
    if (dead) this.opts.metrics?.deadDeliveries.inc(dead);
    await this.opts.afterBatch?.(tx, applied);
  };

  /** Queues a result for the next batch write. */
  private record(result: AttemptResult): void {
    this.pending.push(result);
    this.unrecorded++;
    if (!this.flushing) this.flushing = this.flush();
    else if (this.pending.length >= RESULT_GATHER_COUNT) this.gathered?.();
  }

  /** Lets results gather for a moment while many attempts are finishing; returns at once when few are in flight. */
  private gather(): Promise<void> {
    if (this.pending.length >= RESULT_GATHER_COUNT || this.counted < this.opts.concurrency / 2)
      return new Promise((r) => setImmediate(r));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.gathered = null;
        resolve();
      };
      const timer = setTimeout(done, RESULT_GATHER_MS);
      this.gathered = done;
    });
  }

  // One transaction per batch: results that arrive while a batch is being written go in the next one.
  private async flush(): Promise<void> {
    await this.gather();
    while (this.pending.length) {
      const batch = this.pending.splice(0, RESULT_BATCH);
      try {
        await recordResults(this.opts.ctx.store, this.opts.ctx.config.retryScheduleMs, batch, this.afterBatch);
      } catch (err) {
        this.opts.onStoreError?.(err);
        // The leases run out and other claims retry these rows: at-least-once even when recording fails.
        this.opts.log?.error({ err, deliveries: batch.length }, 'delivery results could not be recorded');
      }
      this.unrecorded -= batch.length;
      this.notifySettled();
      if (this.roomToClaim()) this.wake();
    }
    this.flushing = null;
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
