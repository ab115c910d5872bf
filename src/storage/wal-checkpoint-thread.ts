/**
 * The entry point of the SQLite checkpoint thread (see wal-checkpointer.ts): its own connection to the store's file,
 * which copies committed pages from the WAL into the database file whenever the serving connection has committed
 * since it last looked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { CheckpointReport, CheckpointThreadData } from './wal-checkpointer.js';

const { file, intervalMs } = workerData as CheckpointThreadData;
const port = parentPort!;
const db = new SQLite(file);
db.pragma('busy_timeout = 5000');

// The connection's commit counter moves on every commit by another connection: nothing committed, nothing to copy.
const commitCounter = () => Number(db.pragma('data_version', { simple: true }));
let seen = commitCounter();
// A checkpoint that could not copy every frame (a reader still needs the WAL's older pages, or the writer went on
// appending meanwhile) is run again on the next tick even if nothing else was committed. The first look always
// checkpoints: the serving connection may have committed before this thread started.
let unfinished = true;

const timer = setInterval(() => {
  try {
    const counter = commitCounter();
    if (counter === seen && !unfinished) return;
    seen = counter;
    port.postMessage('starting' satisfies CheckpointReport);
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    unfinished = row!.busy !== 0 || row!.checkpointed < row!.log;
    port.postMessage({ walFrames: row!.log, checkpointedFrames: row!.checkpointed } satisfies CheckpointReport);
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? err.message : String(err) } satisfies CheckpointReport);
  }
}, intervalMs);

port.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
