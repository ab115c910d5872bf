import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/storage/db.js';
import { literalLimit } from '../../src/storage/literal-limit.js';

/**
 * SQLite prepares a statement again on every run when its LIMIT is a bound parameter (it plans ORDER BY … LIMIT by
 * the value), so the SQLite store writes row limits into the statement's text (src/storage/literal-limit.ts). These
 * pin what the statements look like and that they answer as before.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function open(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'escalatr-limit-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore({ sqliteFile: join(dir, 'store.db') });
  cleanups.push(() => store.close());
  await sql`create table t (id integer primary key, n integer not null)`.execute(store.db);
  await sql`insert into t (n) values (5), (4), (3), (2), (1)`.execute(store.db);
  return store;
}

describe('row limits on SQLite', () => {
  it("are written into the query builder's statement, the offset still bound, and answer the same rows", async () => {
    const store = await open();
    const db = store.db as unknown as import('kysely').Kysely<{ t: { id: number; n: number } }>;
    const q = db.selectFrom('t').select('n').orderBy('n').limit(2).offset(1);
    const compiled = q.compile();
    expect(compiled.sql).toMatch(/ limit 2 offset \?$/);
    expect(compiled.parameters).toEqual([1]);
    expect(await q.execute()).toEqual([{ n: 2 }, { n: 3 }]);
    // A limit that is an expression is left to Kysely.
    const expr = db
      .selectFrom('t')
      .select('n')
      .orderBy('n')
      .limit(sql<number>`1 + 1`)
      .compile();
    expect(expr.sql).toMatch(/ limit 1 \+ 1$/);
  });

  it('are written into SQL text by literalLimit, which takes whole counts only', async () => {
    const store = await open();
    const q = sql<{ n: number }>`select n from t order by n desc ${literalLimit(3)} offset ${1}`;
    expect(q.compile(store.db).sql).toBe('select n from t order by n desc limit 3 offset ?');
    expect((await q.execute(store.db)).rows).toEqual([{ n: 4 }, { n: 3 }, { n: 2 }]);
    expect((await sql`select n from t ${literalLimit(0)}`.execute(store.db)).rows).toEqual([]);
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) expect(() => literalLimit(bad)).toThrow(TypeError);
    expect(() => literalLimit('3; drop table t' as unknown as number)).toThrow(TypeError);
  });
});
