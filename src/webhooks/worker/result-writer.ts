import type { AttemptResult } from '../../queue/attempt.js';

/** Results written per transaction at most. */
const RESULT_BATCH = 500;
/**
 * While attempts are finishing fast, a write waits up to this long for this many results, so the store sees a few
 * large transactions rather than many small ones. A quiet worker (fewer attempts in flight) writes at once.
 */
const RESULT_GATHER_MS = 8;
const RESULT_GATHER_COUNT = 256;

export interface ResultWriterOptions {
  /** Writes one batch in one transaction; a failure is reported by it, not thrown (the leases make it safe). */
  write(batch: AttemptResult[]): Promise<void>;
  /** Whether many attempts are finishing (worth gathering results for a moment before writing). */
  busy(): boolean;
  /** After each batch is written (or failed): slots and the settled state may have changed. */
  written(): void;
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

  constructor(private readonly opts: ResultWriterOptions) {}

  /** Results not yet committed. */
  get backlog(): number {
    return this.unwritten;
  }

  /** Queues a result for the next batch write. */
  add(result: AttemptResult): void {
    this.pending.push(result);
    this.unwritten++;
    if (!this.writing) this.writing = this.writeAll();
    else if (this.pending.length >= RESULT_GATHER_COUNT) this.gathered?.();
  }

  /** Lets results gather for a moment while many attempts are finishing; returns at once when few are in flight. */
  private gather(): Promise<void> {
    if (this.pending.length >= RESULT_GATHER_COUNT || !this.opts.busy()) return new Promise((r) => setImmediate(r));
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
