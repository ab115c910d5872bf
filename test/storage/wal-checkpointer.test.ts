import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/storage/db.js';
import { WalCheckpointer, type CheckpointResult } from '../../src/storage/wal-checkpointer.js';
import { createMetrics } from '../../src/metrics.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'escalatr-checkpoint-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'store.db');
}

function open(file: string, onLost: (err: Error) => void = () => {}): Store {
  const store = openStore({ sqliteFile: file, backgroundCheckpoints: { onLost } });
  cleanups.push(() => store.close());
  return store;
}

async function writeRows(store: Store, rows: number): Promise<void> {
  await sql`create table if not exists filler (id integer primary key, body text not null)`.execute(store.db);
  for (let i = 0; i < rows; i++) await sql`insert into filler (body) values (${'x'.repeat(2_000)})`.execute(store.db);
}

const autocheckpoint = async (store: Store) =>
  Number(
    (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.db)).rows[0]!
      .wal_autocheckpoint,
  );

/** Reports until one says every frame of the WAL is in the database file. */
async function untilCaughtUp(store: Store): Promise<CheckpointResult[]> {
  const reports: CheckpointResult[] = [];
  for (;;) {
    const report = await store.checkpointer!.nextCheckpoint();
    reports.push(report);
    if ('error' in report || report.checkpointedFrames === report.walFrames) return reports;
  }
}

describe('SQLite WAL checkpoints on a thread of their own', () => {
  it("copies the serving connection's commits into the database file while that connection never checkpoints", async () => {
    const file = tempFile();
    const store = open(file);
    // Far above SQLite's 1,000 pages: the serving connection's commits leave the checkpoint to the thread.
    expect(await autocheckpoint(store)).toBe(20_000);

    const caughtUp = untilCaughtUp(store);
    await writeRows(store, 300);
    const reports = await caughtUp;
    expect(reports.filter((r) => 'error' in r)).toEqual([]);
    const last = reports.at(-1) as { walFrames: number; checkpointedFrames: number };
    expect(last.walFrames).toBeGreaterThan(0);
    expect(last.checkpointedFrames).toBe(last.walFrames);

    // The rows are in the database file itself: a copy of that file alone, without the WAL, holds them all.
    const copy = `${file}.copy`;
    copyFileSync(file, copy);
    const fileOnly = new SQLite(copy, { readonly: true });
    try {
      expect(fileOnly.prepare('select count(*) as n from filler').get()).toEqual({ n: 300 });
    } finally {
      fileOnly.close();
    }
  });

  it('keeps the WAL from growing: once caught up, the next commits write it from its start again', async () => {
    const file = tempFile();
    const store = open(file);
    await writeRows(store, 1);
    await untilCaughtUp(store);
    for (let round = 0; round < 3; round++) {
      const caughtUp = untilCaughtUp(store);
      await writeRows(store, 50);
      const last = (await caughtUp).at(-1) as { walFrames: number };
      // 50 rows of 2 KB write about a hundred pages; a WAL that never restarted would hold every round's.
      expect(last.walFrames).toBeLessThan(400);
    }
  });

  it('stops its thread when the store closes, and a store without it checkpoints as SQLite does', async () => {
    const file = tempFile();
    const lost: Error[] = [];
    const store = openStore({ sqliteFile: file, backgroundCheckpoints: { onLost: (err) => lost.push(err) } });
    await writeRows(store, 5);
    await store.close();
    expect(lost).toEqual([]);

    const plain = openStore({ sqliteFile: file });
    cleanups.push(() => plain.close());
    expect(plain.checkpointer).toBeUndefined();
    expect(await autocheckpoint(plain)).toBe(1_000);
  });

  it('shows its checkpoints, the WAL it left and that it runs in /metrics', async () => {
    const store = open(tempFile());
    const caughtUp = untilCaughtUp(store);
    await writeRows(store, 20);
    const last = (await caughtUp).at(-1) as { walFrames: number };
    const stats = store.checkpointer!.stats();
    expect(stats).toMatchObject({ failures: 0, walFrames: last.walFrames, running: true });
    expect(stats.checkpoints).toBeGreaterThanOrEqual(1);

    const text = await createMetrics({ walCheckpoints: () => store.checkpointer!.stats() }).registry.metrics();
    expect(text).toContain(`escalatr_sqlite_wal_checkpoints_total{outcome="done"} ${stats.checkpoints}`);
    expect(text).toContain('escalatr_sqlite_wal_checkpoints_total{outcome="failed"} 0');
    expect(text).toContain(`escalatr_sqlite_wal_frames ${last.walFrames}`);
    expect(text).toContain('escalatr_sqlite_checkpoint_thread_up 1');
    // A process without the thread (PostgreSQL, a CLI command) shows none of them.
    expect(await createMetrics().registry.metrics()).not.toContain('escalatr_sqlite_wal');
  });

  it('says so, once, when its thread cannot run, and shows it stopped', async () => {
    const lost: Error[] = [];
    let checkpointer!: WalCheckpointer;
    await new Promise<void>((resolve) => {
      checkpointer = new WalCheckpointer(join(tempFile(), 'no-such-folder', 'store.db'), (err) => {
        lost.push(err);
        resolve();
      });
    });
    // Stopping a thread that already ended settles at once.
    await checkpointer.stop();
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toMatch(/directory does not exist/);
    expect(checkpointer.stats().running).toBe(false);
  });

  it("empties the WAL after an erasure even while the thread's checkpoint is running", async () => {
    const file = tempFile();
    const store = open(file);
    await untilCaughtUp(store);
    // Thousands of pages for the thread to copy and sync: its checkpoint is still running when the erasure ends.
    const started = store.checkpointer!.nextCheckpointStart();
    await store.db.transaction().execute(async (tx) => {
      await sql`create table secrets (id integer primary key, body text not null)`.execute(tx);
      for (let i = 0; i < 4_000; i++)
        await sql`insert into secrets (body) values (${`zelda-${i}-`.repeat(300)})`.execute(tx);
    });
    await started;
    await store.profile.withErasedSpaceCleared(store.db, async () => {
      await sql`delete from secrets`.execute(store.db);
    });
    // Another checkpoint answers busy at once: the truncation waited it out instead of leaving the frames there.
    expect(statSync(`${file}-wal`).size).toBe(0);
    expect(readFileSync(file).toString('latin1').includes('zelda-1-')).toBe(false);
  });
});
