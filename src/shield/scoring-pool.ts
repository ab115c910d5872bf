import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { defaultShieldThreads } from '../config.js';
import type { ScoredRecord, ScoringTask } from './scoring/batch.js';

/**
 * The worker threads that score Shield feedback. Scoring a 20,000-character record takes tens of milliseconds of CPU;
 * on the event loop a large batch would stall every request of every company for seconds.
 *
 * The thread runs this module's sibling `scoring-thread`: compiled JavaScript under `npm start`, the TypeScript
 * source under tsx and vitest. A thread does not inherit loader hooks registered in its parent, so from source it
 * starts with tsx's loader itself.
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
    const fromSource = import.meta.url.endsWith('.ts');
    return new Piscina({
      filename: new URL(`./scoring-thread.${fromSource ? 'ts' : 'js'}`, import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      // Scoring is background work: when the cores are busy, the event loop answering requests goes first (a thread
      // of lower priority, on Linux and macOS; where the priority cannot be set the thread runs at the normal one).
      niceIncrement: 10,
      ...(fromSource ? { execArgv: ['--import', tsxLoaderUrl()] } : {}),
    });
  }
}

function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
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
