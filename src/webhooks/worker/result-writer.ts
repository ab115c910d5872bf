import type { AttemptResult } from '../../queue/attempt.js';

/** Results written per transaction at most. */
const RESULT_BATCH = 500;
/**
 * While attempts are finishing fast, a write waits up to this long for this many results, so the store sees a few
 * large transactions rather than many small ones. A quiet worker (fewer attempts in flight) writes at once.
 */
const RESULT_GATHER_MS = 8;
const RESULT_GATHER_COUNT = 256;
/**
 * Results arriving at least this many within the current span of RESULT_GATHER_MS and the one before it (1,000 to
 * 2,000 a second) are finishing fast too, however few attempts count as in flight: attempts hanging on a dead
 * receiver stop counting, and the healthy ones finishing between them would otherwise be written a few per
 * transaction, each transaction taking the time they need.
 */
const FAST_ARRIVALS = 16;

export interface ResultWriterOptions {
  /** Writes one batch in one transaction; a failure is reported by it, not thrown (the leases make it safe). */
  write(batch: AttemptResult[]): Promise<void>;
  /** Whether many attempts are finishing (worth gathering results for a moment before writing). */
  busy(): boolean;
  /** After each batch is written (or failed): slots and the settled state may have changed. */
  written(): void;
  /** Milliseconds, for the arrival rate (performance.now unless a test gives its own). */
  now?: () => number;
}

/**
 * Finished attempts waiting for their result transaction. One write at a time; results that arrive while a batch
 * is being written go in the next one. An attempt gives its slot back when its response is in, not when its result
 * is committed: the lease still covers the row until then, and a crash before the commit means the row is sent
 * again when the lease runs out (at-least-once).
 */
export class ResultWriter {
  private pending: AttemptResult[] = [];
  /** Results handed over and not yet committed (queued, or in the transaction being written). */
  private unwritten = 0;
  private writing: Promise<void> | null = null;
  /** Ends a write's wait for more results early (enough have gathered). */
  private gathered: (() => void) | null = null;
  /** Results added in the current span of RESULT_GATHER_MS, and in the span before it if that one just ended. */
  private spanStart = -Infinity;
  private spanCount = 0;
  private previousSpanCount = 0;
  private readonly now: () => number;

  constructor(private readonly opts: ResultWriterOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Results not yet committed. */
  get backlog(): number {
    return this.unwritten;
  }

  /** Queues a result for the next batch write. */
  add(result: AttemptResult): void {
    this.countArrival();
    this.pending.push(result);
    this.unwritten++;
    if (!this.writing) this.writing = this.writeAll();
    else if (this.pending.length >= RESULT_GATHER_COUNT) this.gathered?.();
  }

  private countArrival(): void {
    const now = this.now();
    if (now - this.spanStart >= RESULT_GATHER_MS) {
      this.previousSpanCount = now - this.spanStart < 2 * RESULT_GATHER_MS ? this.spanCount : 0;
      this.spanStart = now;
      this.spanCount = 0;
    }
    this.spanCount++;
  }

  /** Whether results are arriving fast: FAST_ARRIVALS or more within the current span and the one before it. */
  private arrivingFast(): boolean {
    return this.now() - this.spanStart < RESULT_GATHER_MS && this.spanCount + this.previousSpanCount >= FAST_ARRIVALS;
  }

  /**
   * Lets results gather for a moment while many attempts are finishing (many in flight, or results arriving fast);
   * returns at once for a quiet worker, whose few results are written as they come.
   */
  private gather(): Promise<void> {
    if (this.pending.length >= RESULT_GATHER_COUNT || !(this.opts.busy() || this.arrivingFast()))
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

  private async writeAll(): Promise<void> {
    await this.gather();
    while (this.pending.length) {
      const batch = this.pending.splice(0, RESULT_BATCH);
      await this.opts.write(batch);
      this.unwritten -= batch.length;
      this.opts.written();
    }
    this.writing = null;
  }
}
