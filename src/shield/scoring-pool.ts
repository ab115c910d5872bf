import { Piscina } from 'piscina';
import { defaultShieldThreads } from '../config.js';
import { threadEntry } from '../threads.js';
import type { ScoredRecord, ScoringTask } from './scoring/batch.js';

/**
 * The worker threads that score Shield feedback. Scoring a 20,000-character record takes tens of milliseconds of CPU;
 * on the event loop a large batch would stall every request of every company for seconds.
 *
 * The thread runs this module's sibling `scoring-thread` (see threads.ts for how it is found and started).
 */
export class ScoringPool {
  // Started on the first batch, so a process that never scores (or is still starting) spends nothing on threads.
  private pool: Piscina<ScoringTask, ScoredRecord[]> | null = null;

  constructor(readonly threads: number = defaultShieldThreads()) {}

  score(task: ScoringTask): Promise<ScoredRecord[]> {
    this.pool ??= this.start();
    return this.pool.run(task);
  }

  /** Ends the threads; tasks still queued are rejected. */
  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = null;
  }

  private start(): Piscina<ScoringTask, ScoredRecord[]> {
    const entry = threadEntry(import.meta.url, 'scoring-thread');
    return new Piscina({
      filename: entry.filename.href,
      minThreads: this.threads,
      maxThreads: this.threads,
      // Scoring is background work: when the cores are busy, the event loop answering requests goes first (a thread
      // of lower priority, on Linux and macOS; where the priority cannot be set the thread runs at the normal one).
      niceIncrement: 10,
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
    });
  }
}

let shared: ScoringPool | null = null;

/**
 * A process-wide pool for processors built without one (tests, CLI tools). Idle threads do not keep the process
 * alive, so it needs no closing.
 */
export function sharedScoringPool(): ScoringPool {
  shared ??= new ScoringPool();
  return shared;
}
