import { performance } from 'node:perf_hooks';

/**
 * An attempt still waiting for its answer after this long stops counting against the worker's concurrency (it
 * still counts against its receiver's cap), up to one concurrency's worth of such attempts: a receiver that hangs
 * until its timeout (up to 30 s) would otherwise hold its cap of slots, 8 of 64 by default, away from every other
 * receiver for as long as it stays down.
 */
const SLOW_AFTER_MS = 250;

/** Keeps the attempts in flight and sweeps those that became slow; `onFreed` runs when a sweep freed slots. */
export class SlowAttempts<T> {
  private readonly since = new Map<T, { at: number; slow: boolean }>();
  private slow = 0;
  private sweep: NodeJS.Timeout | null = null;

  constructor(
    private readonly max: number,
    private readonly onFreed: () => void,
  ) {}

  /** Attempts in flight that no longer count against the concurrency. */
  get count(): number {
    return this.slow;
  }

  /** Sweeps every half SLOW_AFTER_MS until stop(); attempts begun while not sweeping are not tracked. */
  start(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => this.sweepSlow(), SLOW_AFTER_MS / 2);
    this.sweep.unref();
  }

  stop(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  began(attempt: T): void {
    if (this.sweep) this.since.set(attempt, { at: performance.now(), slow: false });
  }

  ended(attempt: T): void {
    if (this.since.get(attempt)?.slow) this.slow--;
    this.since.delete(attempt);
  }

  private sweepSlow(): void {
    const now = performance.now();
    let freed = 0;
    for (const since of this.since.values()) {
      if (this.slow >= this.max) break;
      if (since.slow || now - since.at < SLOW_AFTER_MS) continue;
      since.slow = true;
      this.slow++;
      freed++;
    }
    if (freed) this.onFreed();
  }
}
