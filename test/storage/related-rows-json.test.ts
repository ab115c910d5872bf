import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iso } from '../../src/clock.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { sqliteProfile } from '../../src/storage/dialects.js';

/**
 * SQLite writes a page's related rows as the answer's JSON itself (the event feed's deliveries): the text must be
 * what the API would write from the same values — times as clock.ts's `iso` writes them, keys in the given order,
 * rows in the given order.
 */

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'escalatr-related-json-'));
  store = openStore({ sqliteFile: join(dir, 'store.db') });
  await sql`create table r (id text primary key, grp text not null, label text, n integer, at integer)`.execute(
    store.db,
  );
});
afterAll(async () => {
  await store.db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const asJson = sqliteProfile.relatedRowsAsJson!;
const FIELDS = [
  { key: 'id', value: sql.raw('r.id') },
  { key: 'label', value: sql.raw('r.label') },
  { key: 'n', value: sql.raw('r.n') },
  { key: 'at', value: sql.raw('r.at'), time: true },
];

async function jsonOf(grp: string): Promise<string> {
  const { rows } = await sql<{ j: string }>`
    select (select ${asJson(FIELDS, sql.raw('r.id'))} from r where r.grp = ${grp}) as j`.execute(store.db);
  return rows[0].j;
}

async function insert(
  rows: Array<{ id: string; grp: string; label: string | null; n: number | null; at: number | null }>,
) {
  for (const r of rows)
    await sql`insert into r values (${r.id}, ${r.grp}, ${r.label}, ${r.n}, ${r.at})`.execute(store.db);
}

describe('related rows as JSON on SQLite', () => {
  it('writes times exactly as iso does, for any millisecond', async () => {
    const edges = [
      0,
      1,
      999,
      1000,
      86_399_999,
      86_400_000,
      Date.UTC(2026, 11, 5, 10, 0, 5),
      Date.UTC(2099, 11, 31, 23, 59, 59, 999),
    ];
    // And 3,000 times up to the year 2200, seeded so that a failure repeats: each is divided into seconds as a binary
    // fraction, which SQLite must round back to the same millisecond.
    let seed = 20261207;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const times = [...edges, ...Array.from({ length: 3000 }, () => Math.floor(random() * Date.UTC(2200, 0, 1)))];
    await insert(
      times.map((at, i) => ({ id: `t${String(i).padStart(5, '0')}`, grp: 'times', label: null, n: null, at })),
    );
    const written = JSON.parse(await jsonOf('times')) as Array<{ at: string }>;
    expect(written.map((r) => r.at)).toEqual(times.map(iso));
  });

  it('writes keys in the given order, numbers as numbers, nulls as null, and rows in the given order', async () => {
    await insert([
      { id: 'b', grp: 'shape', label: 'second', n: 503, at: Date.UTC(2026, 11, 5, 10, 0, 5) },
      { id: 'a', grp: 'shape', label: null, n: 2, at: null },
      { id: 'c', grp: 'shape', label: 'she said "refund" \\ Zoë — 東京 🚀\n', n: null, at: 1 },
    ]);
    const text = await jsonOf('shape');
    expect(text).toBe(
      '[{"id":"a","label":null,"n":2,"at":null},' +
        '{"id":"b","label":"second","n":503,"at":"2026-12-05T10:00:05.000Z"},' +
        `{"id":"c","label":${JSON.stringify('she said "refund" \\ Zoë — 東京 🚀\n')},"n":null,"at":"1970-01-01T00:00:00.001Z"}]`,
    );
  });

  it('is an empty array when there is no row', async () => {
    expect(await jsonOf('nothing')).toBe('[]');
  });
});
