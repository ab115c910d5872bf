import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startThread } from '../threads.js';

export interface CheckpointThreadData {
  file: string;
  intervalMs: number;
}

/** What one look of the checkpoint thread did: the WAL's frames and how many of them are now in the file. */
export type CheckpointReport = { walFrames: number; checkpointedFrames: number } | { error: string };

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
  private readonly waiting: Array<(report: CheckpointReport) => void> = [];
  private stopped: Promise<void> | null = null;
  checkpoints = 0;
  failures = 0;

  /** `onLost` runs if the thread ends by itself (it could not start, or failed): the caller checkpoints again. */
  constructor(file: string, onLost: (err: Error) => void) {
    this.thread = startThread(import.meta.url, 'wal-checkpoint-thread', {
      workerData: { file, intervalMs: CHECKPOINT_INTERVAL_MS } satisfies CheckpointThreadData,
    });
    // A process that forgets to close its store still exits.
    this.thread.unref();
    this.thread.on('message', (report: CheckpointReport) => {
      if ('error' in report) this.failures++;
      else this.checkpoints++;
      for (const resolve of this.waiting.splice(0)) resolve(report);
    });
    this.thread.on('error', (err) => {
      if (!this.stopped) onLost(err);
    });
    this.thread.on('exit', (code) => {
      if (!this.stopped) onLost(new Error(`the checkpoint thread exited (${code})`));
    });
  }

  /** The thread's next report (tests await it instead of waiting for time). */
  nextCheckpoint(): Promise<CheckpointReport> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const exited = once(this.thread, 'exit').catch(() => undefined);
      // Unreferenced, the thread would not keep this process alive until it has closed its connection.
      this.thread.ref();
      this.thread.postMessage('stop');
      await exited;
    })();
    return this.stopped;
  }
}
