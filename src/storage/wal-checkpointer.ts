import type { Worker } from 'node:worker_threads';
import type { WalCheckpointStats } from '../metrics.js';
import { startThread } from '../threads.js';

export interface CheckpointThreadData {
  file: string;
  intervalMs: number;
}

/**
 * What the checkpoint thread tells: that a checkpoint begins, then what it did (the WAL's frames and how many of
 * them are now in the file) or why it failed.
 */
export type CheckpointReport = 'starting' | { walFrames: number; checkpointedFrames: number } | { error: string };
export type CheckpointResult = Exclude<CheckpointReport, 'starting'>;

/** How often the thread looks for commits; at full load the serving connection writes a few thousand pages a second. */
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * SQLite's WAL checkpoints, run on a thread of their own. By default the connection whose commit takes the WAL past
 * a thousand pages copies them into the database file and syncs it, inside that commit: on the serving connection
 * that is the event loop, stalled for milliseconds in every few hundred commits while requests and deliveries wait.
 * Here the serving connection never checkpoints (`wal_autocheckpoint` is lifted far out of the way, kept only as a
 * bound should this thread fall behind) and a second connection, on this thread, checkpoints whenever the first has
 * committed since it last looked. A PASSIVE checkpoint waits for no one: readers and the writer go on meanwhile.
 */
export class WalCheckpointer {
  private readonly thread: Worker;
  private readonly waiting: Array<(report: CheckpointResult) => void> = [];
  private readonly waitingForStart: Array<() => void> = [];
  private stopped: Promise<void> | null = null;
  private readonly exited: Promise<void>;
  private readonly counts: WalCheckpointStats = { checkpoints: 0, failures: 0, walFrames: 0, running: true };

  /** `onLost` runs if the thread ends by itself (it could not start, or failed): the caller checkpoints again. */
  constructor(file: string, onLost: (err: Error) => void) {
    this.thread = startThread(import.meta.url, 'wal-checkpoint-thread', {
      workerData: { file, intervalMs: CHECKPOINT_INTERVAL_MS } satisfies CheckpointThreadData,
    });
    // A process that forgets to close its store still exits.
    this.thread.unref();
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve()));
    this.thread.on('message', (report: CheckpointReport) => {
      if (report === 'starting') {
        for (const resolve of this.waitingForStart.splice(0)) resolve();
        return;
      }
      if ('error' in report) this.counts.failures++;
      else {
        this.counts.checkpoints++;
        this.counts.walFrames = report.walFrames;
      }
      for (const resolve of this.waiting.splice(0)) resolve(report);
    });
    const lost = (err: Error) => {
      if (this.stopped || !this.counts.running) return;
      this.counts.running = false;
      onLost(err);
    };
    this.thread.on('error', lost);
    this.thread.on('exit', (code) => lost(new Error(`the checkpoint thread exited (${code})`)));
  }

  /** For /metrics. */
  stats(): Readonly<WalCheckpointStats> {
    return this.counts;
  }

  /** What the thread's next checkpoint did (tests await it instead of waiting for time). */
  nextCheckpoint(): Promise<CheckpointResult> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Settles as the thread begins its next checkpoint (tests that need one running). */
  nextCheckpointStart(): Promise<void> {
    return new Promise((resolve) => this.waitingForStart.push(resolve));
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      // Unreferenced, the thread would not keep this process alive until it has closed its connection.
      this.thread.ref();
      this.thread.postMessage('stop');
      await this.exited;
    })();
    return this.stopped;
  }
}
