import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/db.js';

/**
 * An operator's `ANALYZE` (or `PRAGMA optimize`) leaves value samples in `sqlite_stat4`, with which SQLite plans a
 * statement again at every call that binds a sampled parameter. The store drops them when it opens.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function statisticsTables(file: string): string[] {
  const db = new SQLite(file, { readonly: true });
  try {
    const rows = db.prepare(`select name from sqlite_schema where name like 'sqlite_stat%' order by name`).all();
    return (rows as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
}

describe('statistics in the SQLite store', () => {
  it('are kept as per-index counts and lose their value samples when the store opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'escalatr-stats-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'store.db');
    const first = openStore({ sqliteFile: file });
    await sql`create table t (id integer primary key, company text not null, n integer not null)`.execute(first.db);
    await sql`create index t_company on t (company, n)`.execute(first.db);
    await sql`
      with recursive s(i) as (select 1 union all select i + 1 from s where i < 500)
      insert into t (company, n) select 'c' || (i % 7), i from s`.execute(first.db);
    // What an operator's ANALYZE on the live file leaves behind.
    await sql`analyze`.execute(first.db);
    await first.close();
    expect(statisticsTables(file)).toEqual(['sqlite_stat1', 'sqlite_stat4']);

    const reopened = openStore({ sqliteFile: file });
    cleanups.push(() => reopened.close());
    expect(statisticsTables(file)).toEqual(['sqlite_stat1']);
    // The counts stay, and the store reads as before.
    const { rows } = await sql<{ n: number }>`select count(*) as n from t where company = ${'c3'}`.execute(reopened.db);
    expect(rows[0].n).toBe(72);
    const stat1 = await sql<{ idx: string }>`select idx from sqlite_stat1 where tbl = 't'`.execute(reopened.db);
    expect(stat1.rows.map((r) => r.idx)).toEqual(['t_company']);
  });

  it('open as they are on a store that never gathered any', () => {
    const dir = mkdtempSync(join(tmpdir(), 'escalatr-stats-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'store.db');
    const store = openStore({ sqliteFile: file });
    cleanups.push(() => store.close());
    expect(statisticsTables(file)).toEqual([]);
  });
});
