import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/storage/db.js';

const ROWS_PROCESS = fileURLToPath(new URL('./sqlite-rows-process.ts', import.meta.url));

/**
 * The SQLite store builds row objects itself from SQLite's raw arrays (src/storage/db.ts, ObjectRows). Every read of
 * the suite goes through it; these pin what a row must look like in the cases the suite rarely meets: the same
 * objects better-sqlite3 itself would make, whatever the schema did since the statement was first prepared.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function open(): { store: Store; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'escalatr-rows-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'store.db');
  const store = openStore({ sqliteFile: file });
  cleanups.push(() => store.close());
  return { store, file };
}

/** The rows better-sqlite3 makes of the same statement on its own connection. */
function nativeRows(file: string, text: string, ...params: unknown[]): unknown[] {
  const db = new SQLite(file, { readonly: true });
  try {
    return db.prepare(text).all(...params);
  } finally {
    db.close();
  }
}

describe('rows read from the SQLite store', () => {
  it('are the objects better-sqlite3 makes: keys in column order, values and types alike, a later column of the same name winning', async () => {
    const { store, file } = open();
    await sql`create table t (id integer primary key, name text, amount real, big integer, blob blob, gone text)`.execute(
      store.db,
    );
    await sql`insert into t (name, amount, big, blob, gone) values ('a', 1.5, 9007199254740991, x'00ff', null), ('b', null, -3, null, 'x')`.execute(
      store.db,
    );
    const text =
      'select id, name, amount, big, blob, gone, name as id, 7 as "7", 1 as "constructor" from t order by id';
    const { rows } = await sql.raw(text).execute(store.db);
    expect(rows).toEqual(nativeRows(file, text));
    expect(rows.map((r) => Object.keys(r as object))).toEqual(
      (nativeRows(file, text) as object[]).map((r) => Object.keys(r)),
    );
    expect((rows[0] as { id: unknown }).id).toBe('a');
    expect(Buffer.isBuffer((rows[0] as { blob: unknown }).blob)).toBe(true);
    // Asked again (the statement is cached now), the same.
    expect((await sql.raw(text).execute(store.db)).rows).toEqual(rows);
  });

  it('take any column name as a key, never as code: quotes, backslashes, braces, a line break, non-ASCII', async () => {
    const { store, file } = open();
    const text = `select 1 as "a""b", 2 as "c\\d", 3 as "x }; throw new Error('ran'); ({", 4 as "line
break", 5 as "é ✓", 6 as "\u2028"`;
    const { rows } = await sql.raw(text).execute(store.db);
    expect(rows).toEqual(nativeRows(file, text));
    expect(Object.keys(rows[0] as object)).toEqual([
      'a"b',
      'c\\d',
      "x }; throw new Error('ran'); ({",
      'line\nbreak',
      'é ✓',
      '\u2028',
    ]);
  });

  it('are the same in a process that may not compile code from strings (the keys then set one at a time)', async () => {
    const { store, file } = open();
    await sql`create table t (id integer primary key, name text, n integer)`.execute(store.db);
    await sql`insert into t (name, n) values ('a', 1), ('b', null)`.execute(store.db);
    const text = 'select id, name, n, name as id, 7 as "7", 3 as "x }; ({" from t order by id';
    const out = execFileSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', ROWS_PROCESS, file, text],
      { encoding: 'utf8' },
    );
    const native = nativeRows(file, text) as object[];
    const { first, cached, keys } = JSON.parse(out) as { first: unknown[]; cached: unknown[]; keys: string[][] };
    expect(first).toEqual(native);
    expect(cached).toEqual(native);
    expect(keys).toEqual(native.map((r) => Object.keys(r)));
  });

  it('follow the schema: a cached `select *` sees a column added or dropped since, and an empty result is empty', async () => {
    const { store } = open();
    await sql`create table t (id integer primary key, a text)`.execute(store.db);
    await sql`insert into t (a) values ('one')`.execute(store.db);
    const all = () => sql`select * from t`.execute(store.db).then((r) => r.rows);
    expect(await all()).toEqual([{ id: 1, a: 'one' }]);
    await sql`alter table t add column b text default 'two'`.execute(store.db);
    expect(await all()).toEqual([{ id: 1, a: 'one', b: 'two' }]);
    await sql`alter table t rename column a to c`.execute(store.db);
    expect(await all()).toEqual([{ id: 1, c: 'one', b: 'two' }]);
    await sql`alter table t drop column b`.execute(store.db);
    expect(await all()).toEqual([{ id: 1, c: 'one' }]);
    await sql`delete from t`.execute(store.db);
    expect(await all()).toEqual([]);
  });

  it('follow a schema another connection changed, and a RETURNING statement then still runs once', async () => {
    const { store, file } = open();
    await sql`create table t (id integer primary key, n integer not null)`.execute(store.db);
    await sql`insert into t (n) values (1), (2)`.execute(store.db);
    const bump = () => sql`update t set n = n + 1 returning *`.execute(store.db).then((r) => r.rows);
    expect(await bump()).toEqual([
      { id: 1, n: 2 },
      { id: 2, n: 3 },
    ]);
    const other = new SQLite(file);
    other.exec(`alter table t add column note text default 'x'`);
    other.close();
    expect(await bump()).toEqual([
      { id: 1, n: 3, note: 'x' },
      { id: 2, n: 4, note: 'x' },
    ]);
    expect((await sql`select n from t order by id`.execute(store.db)).rows).toEqual([{ n: 3 }, { n: 4 }]);
  });

  it('read a column named __proto__ as better-sqlite3 does, never as the row’s prototype', async () => {
    const { store, file } = open();
    const text = `select 1 as a, 'x' as "__proto__"`;
    const { rows } = await sql.raw(text).execute(store.db);
    expect(rows).toEqual(nativeRows(file, text));
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
    expect((rows[0] as { a: unknown }).a).toBe(1);
  });

  it('leave a statement usable after it fails', async () => {
    const { store } = open();
    await sql`create table t (id integer primary key, n integer not null check (n > 0))`.execute(store.db);
    const insert = (n: number) => sql`insert into t (n) values (${n}) returning id, n`.execute(store.db);
    await expect(insert(-1)).rejects.toThrow(/CHECK constraint/);
    expect((await insert(5)).rows).toEqual([{ id: 1, n: 5 }]);
  });
});
