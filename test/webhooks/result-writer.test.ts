import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptResult } from '../../src/queue/attempt.js';
import { ResultWriter } from '../../src/webhooks/worker/result-writer.js';

const result = () => ({}) as AttemptResult;

/**
 * The result writer batches by how fast results arrive, not only by how many attempts count as in flight: attempts
 * hanging on a dead receiver stop counting, and the healthy ones finishing between them were written a few per
 * transaction (in the isolation bench, 1,685 result transactions against 883 without the dead receiver).
 */
describe('result writer batching', () => {
  let t: number;
  let batches: number[];
  let writer: ResultWriter;
  /** Moves the writer's clock and the timers together. */
  const advance = async (ms: number) => {
    t += ms;
    await vi.advanceTimersByTimeAsync(ms);
  };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
    t = 1_000;
    batches = [];
    writer = new ResultWriter({
      write: async (batch) => {
        batches.push(batch.length);
      },
      // Few attempts count as in flight, as when a dead receiver's attempts hang.
      busy: () => false,
      written: () => {},
      now: () => t,
    });
  });
  afterEach(() => vi.useRealTimers());

  it('writes a quiet worker’s results as they come', async () => {
    for (let i = 0; i < 4; i++) {
      writer.add(result());
      await advance(5); // 200 results a second
    }
    expect(batches).toEqual([1, 1, 1, 1]);
    expect(writer.backlog).toBe(0);
  });

  it('gathers for a moment while results arrive fast, though few attempts count as in flight', async () => {
    // 20 results within 2 ms (10,000 a second): the first write starts at once and takes them all.
    for (let i = 0; i < 20; i++) {
      writer.add(result());
      t += 0.1;
    }
    await advance(0);
    expect(batches).toEqual([20]);
    // More keep arriving, one a millisecond: the next write waits for its gathering time (8 ms) instead of taking
    // each alone.
    for (let i = 0; i < 6; i++) {
      writer.add(result());
      await advance(1);
    }
    expect(batches).toEqual([20]);
    await advance(8);
    expect(batches).toEqual([20, 6]);
    expect(writer.backlog).toBe(0);
  });
});
