import { sql, type QueryExecutorProvider, type RawBuilder, type SelectQueryBuilder } from 'kysely';

/**
 * How many matching rows past a page's first a list over a history counts before it stops. A company's deliveries and
 * feedback records number in the millions after a while, and counting them all read every index entry on every
 * request (on SQLite 83 ms at a million deliveries, on the event loop every company shares; with a filter the index
 * could not tell apart, every row too: up to 2.8 s, docs/benchmarks.md finding 68). Past this a list's total says
 * how many were counted, and that more match.
 */
export const COUNTED_AHEAD = 10_000;

/** A list's total: every matching row when `exact`, otherwise as many as were counted (more match). */
export interface CountedRows {
  total: number;
  exact: boolean;
}

/**
 * How many rows `rows` (a statement with no ORDER BY or LIMIT of its own; as SQL text, one that selects a constant)
 * yields, counted up to COUNTED_AHEAD past `offset`, the first row of the page the count goes with: the count reaches
 * as far as the page's own walk, and 10,000 rows further.
 */
export function countPast<DB, TB extends keyof DB, O>(
  db: QueryExecutorProvider,
  rows: SelectQueryBuilder<DB, TB, O> | RawBuilder<unknown>,
  offset: number,
): Promise<CountedRows> {
  return countUpTo(db, rows, offset + COUNTED_AHEAD);
}

/** How many rows `rows` (as for countPast) yields, counted up to `upTo`: past it, `upTo` and not exact. */
export async function countUpTo<DB, TB extends keyof DB, O>(
  db: QueryExecutorProvider,
  rows: SelectQueryBuilder<DB, TB, O> | RawBuilder<unknown>,
  upTo: number,
): Promise<CountedRows> {
  // A builder is written in parentheses where it is embedded; SQL text is put in them here.
  const source = 'clearSelect' in rows ? rows.clearSelect().select(sql.lit(1).as('one')) : sql`(${rows})`;
  // The limit is a parameter: written into the text (as the query builder's own limits are on SQLite), every page
  // would be a statement of its own in the store's statement cache.
  const { rows: counts } = await sql<{ n: number | string }>`
    select count(*) as n from (
      select 1 from ${source} as r limit ${upTo + 1}) as m`.execute(db);
  const counted = Number(counts[0]?.n ?? 0);
  return { total: Math.min(counted, upTo), exact: counted <= upTo };
}
