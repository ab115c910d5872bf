/**
 * A background job run again and again, one run at a time: the upkeep loops a process runs beside its work (the SLA
 * scheduler, retention, the queue's vacuum).
 *
 * - `run()` starts a run, or joins the one under way, so a test (or an operator's command) calling it while the
 *   timer's run is going waits for that one instead of doubling it.
 * - The next run is timed from the end of the last, never from its start: a run longer than the interval is not
 *   followed by a pile of runs. `nextDelayMs` may ask for a shorter wait (a run that stopped at its budget).
 * - The timer does not hold the process open, and `stop()` waits for the run under way, so a shutdown closes the
 *   store after it.
 * - A failed run is reported to `onError` and the loop goes on at the interval.
 */
export interface PeriodicJobOptions<T> {
  intervalMs: number;
  run: () => Promise<T>;
  onError: (err: unknown) => void;
  /** The wait before the next run after one that returned `result`; the interval when not given. */
  nextDelayMs?: (result: T) => number;
}

export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<T> | null = null;
  private started = false;

  constructor(private readonly opts: PeriodicJobOptions<T>) {}

  /** One run now, or the one under way. */
  run(): Promise<T> {
    this.running ??= this.opts.run().finally(() => (this.running = null));
    return this.running;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run()
        .then(
          (result) => this.opts.nextDelayMs?.(result) ?? this.opts.intervalMs,
          (err) => {
            this.opts.onError(err);
            return this.opts.intervalMs;
          },
        )
        .then((next) => {
          if (this.started && !this.timer) this.schedule(next);
        });
    }, ms);
    this.timer.unref();
  }
}
