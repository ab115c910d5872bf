import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../storage/db.js';
import { literalLimit } from '../storage/literal-limit.js';
import { ESCALATR_ID_PATTERN, SUMMARY_COLUMNS, type ComplaintFilter, type ComplaintSummaryRow } from './complaints.js';
import { levelNumber } from './lifecycle.js';
import { beforePlace, cursorPage, decodeListCursor, type ListAfter } from './list-cursor.js';

type Narrowing = Omit<ComplaintFilter, 'page' | 'limit'>;

/**
 * How many of a company's complaints match a filter, from the trigger-maintained `complaint_counts` (migrations 0002
 * and 0063): a sum over at most 432 rows however many complaints there are, and exact, because the triggers run in
 * the transaction of every complaint write. One holder's complaints are counted instead, on the (company, holder)
 * index: the counts know only whether a complaint is held, and one person holds a bounded share.
 */
function countsTotal(companyId: string, f: Narrowing): RawBuilder<unknown> {
  if (typeof f.holder === 'string') return sql`(select count(*) from complaints where ${narrowing(companyId, f)})`;
  const conditions = [columnsOfBoth(companyId, f)];
  if (f.holder === null) conditions.push(sql`held = 0`);
  if (f.flagged !== undefined) conditions.push(f.flagged ? sql`flagged = 1` : sql`flagged = 0`);
  return sql`(select sum(n) from complaint_counts where ${sql.join(conditions, sql` and `)})`;
}

/**
 * The company and the filter's columns that both tables have. The list and its count run on every API list request,
 * so they are written as SQL text rather than built: building and compiling them with Kysely's query builder on every
 * request was a large share of a list request's CPU (measured in docs/benchmarks.md).
 */
function columnsOfBoth(companyId: string, f: Narrowing): RawBuilder<unknown> {
  const conditions = [sql`company_id = ${companyId}`];
  if (f.status) conditions.push(sql`status = ${f.status}`);
  if (f.stage) conditions.push(sql`stage = ${f.stage}`);
  if (f.escalation_level) conditions.push(sql`level = ${levelNumber(f.escalation_level)}`);
  return sql.join(conditions, sql` and `);
}

/** The filter over `complaints`: a holder and the flag are read on the (company, holder) and flagged indexes. */
function narrowing(companyId: string, f: Narrowing): RawBuilder<unknown> {
  const conditions = [columnsOfBoth(companyId, f)];
  if (f.holder !== undefined)
    conditions.push(f.holder === null ? sql`claimed_by is null` : sql`claimed_by = ${f.holder}`);
  if (f.flagged !== undefined) conditions.push(f.flagged ? sql`flagged_at is not null` : sql`flagged_at is null`);
  return sql.join(conditions, sql` and `);
}

const SUMMARY_SELECT = sql.raw(SUMMARY_COLUMNS.join(', '));

/** A company list's cursor names a complaint by its Escalatr id. */
const ESCALATR_ID = new RegExp(ESCALATR_ID_PATTERN);

/** Where a complaint list's cursor starts; a 400 `invalid_query` for any text the list did not give. */
export const complaintListAfter = (cursor: string): ListAfter => decodeListCursor(cursor, ESCALATR_ID);

export interface ComplaintListPage {
  rows: ComplaintSummaryRow[];
  total: number;
  /** With `after`: the cursor of the page after this one, null on the last page. */
  nextCursor?: string | null;
}

/**
 * A company's complaints, newest first, with the total. The page comes off the (company, filter columns,
 * created_at) indexes in order, list-item columns only; the total comes from the counts, read by the page's own
 * statement (one statement instead of two on every list request, and the two agree). A page past the end has no row
 * to carry the total, so then it is read on its own. With `after` the page starts past that place (or at the start)
 * instead of at an offset, and one row more than the page is read to know whether another page follows.
 */
export async function listCompanyComplaints(
  db: Db,
  companyId: string,
  f: ComplaintFilter & { after?: ListAfter },
): Promise<ComplaintListPage> {
  const place = typeof f.after === 'object' ? f.after : undefined;
  const filter = narrowing(companyId, f);
  const where = place ? sql`${filter} and ${beforePlace(place, 'created_at', 'escalatr_id')}` : filter;
  const total = countsTotal(companyId, f);
  const offset = f.after ? 0 : (f.page - 1) * f.limit;
  const read = await sql<ComplaintSummaryRow & { total: number | string | null }>`
    select ${SUMMARY_SELECT}, ${total} as total from complaints where ${where}
    order by created_at desc, escalatr_id desc ${literalLimit(f.after ? f.limit + 1 : f.limit)} offset ${offset}`.execute(
    db,
  );
  const { rows, nextCursor } = f.after
    ? cursorPage(read.rows, f.limit, (c) => ({ time: Number(c.created_at), id: c.escalatr_id }))
    : { rows: read.rows, nextCursor: undefined };
  if (rows.length) return { rows, total: Number(rows[0].total ?? 0), nextCursor };
  const alone = await sql<{ total: number | string | null }>`select ${total} as total`.execute(db);
  return { rows, total: Number(alone.rows[0]?.total ?? 0), nextCursor };
}
