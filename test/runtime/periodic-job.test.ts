import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeriodicJob } from '../../src/periodic.js';

/** A run the test ends when it chooses. */
function gate<T>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('a periodic background job', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('runs every interval, timed from the end of the last run, never two at once', async () => {
    const runs: Array<ReturnType<typeof gate<number>>> = [];
    const job = new PeriodicJob({
      intervalMs: 1_000,
      run: () => {
        runs.push(gate<number>());
        return runs[runs.length - 1].promise;
      },
      onError: () => expect.unreachable(),
    });
    job.start();
    job.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(1);

    // A run longer than the interval: nothing piles up behind it, and a direct call joins it.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toHaveLength(1);
    const joined = job.run();
    expect(runs).toHaveLength(1);
    runs[0].open(7);
    expect(await joined).toBe(7);

    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(2);
    runs[1].open(0);
    await job.stop();
  });

  it('reports a failed run and goes on at the interval', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const job = new PeriodicJob({
      intervalMs: 100,
      run: async () => {
        calls++;
        if (calls === 1) throw new Error('store unavailable');
        return calls;
      },
      onError: (err) => errors.push(err),
    });
    job.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(1);
    expect(errors).toEqual([new Error('store unavailable')]);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(1);
    await job.stop();
  });

  it('waits what the last result asks for when told', async () => {
    const results = [false, false, true];
    let calls = 0;
    const job = new PeriodicJob({
      intervalMs: 10_000,
      run: async () => results[calls++] ?? true,
      nextDelayMs: (done) => (done ? 10_000 : 50),
      onError: () => expect.unreachable(),
    });
    job.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toBe(3);
    // The third said it was done: back to the interval.
    await vi.advanceTimersByTimeAsync(9_999);
    expect(calls).toBe(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(4);
    await job.stop();
  });

  it('stop waits for the run under way and starts no other; start again resumes', async () => {
    const run = gate<string>();
    let calls = 0;
    const job = new PeriodicJob({
      intervalMs: 100,
      run: () => {
        calls++;
        return calls === 1 ? run.promise : Promise.resolve('later');
      },
      onError: () => expect.unreachable(),
    });
    job.start();
    await vi.advanceTimersByTimeAsync(100);
    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    run.open('first');
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(1);

    job.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    await job.stop();
  });
});

describe('a periodic background job on real timers', () => {
  it('does not hold the process open', async () => {
    const job = new PeriodicJob({ intervalMs: 60_000, run: async () => 1, onError: () => expect.unreachable() });
    job.start();
    // The pending timer is the job's own; nothing else shows whether it keeps the event loop alive.
    const timer = (job as unknown as { timer: NodeJS.Timeout }).timer;
    expect(timer.hasRef()).toBe(false);
    await job.stop();
    expect((job as unknown as { timer: NodeJS.Timeout | null }).timer).toBeNull();
  });
});
