import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../storage/db.js';
import { literalLimit } from '../storage/literal-limit.js';
import { SUMMARY_COLUMNS, type ComplaintFilter, type ComplaintSummaryRow } from './complaints.js';
import { levelNumber } from './lifecycle.js';

type Narrowing = Omit<ComplaintFilter, 'page' | 'limit' | 'holder' | 'flagged'>;

/**
 * How many of a company's complaints match a filter, from the trigger-maintained `complaint_counts` (migration
 * 0002): a sum over at most 108 rows however many complaints there are, and exact, because the triggers run in the
 * transaction of every complaint write.
 */
const countsTotal = (companyId: string, f: Narrowing) =>
  sql`(select sum(n) from complaint_counts where ${narrowing(companyId, f)})`;

/**
 * The company and the filter's columns, which both tables have. The list and its count run on every API list
 * request, so they are written as SQL text rather than built: building and compiling them with Kysely's query
 * builder on every request was a large share of a list request's CPU (measured in docs/benchmarks.md).
 */
function narrowing(companyId: string, f: Narrowing): RawBuilder<unknown> {
  const conditions = [sql`company_id = ${companyId}`];
  if (f.status) conditions.push(sql`status = ${f.status}`);
  if (f.stage) conditions.push(sql`stage = ${f.stage}`);
  if (f.escalation_level) conditions.push(sql`level = ${levelNumber(f.escalation_level)}`);
  return sql.join(conditions, sql` and `);
}

const SUMMARY_SELECT = sql.raw(SUMMARY_COLUMNS.join(', '));

/**
 * A company's complaints, newest first, with the total. The page comes off the (company, filter columns,
 * created_at) indexes in order, list-item columns only; the total comes from the counts, read by the page's own
 * statement (one statement instead of two on every list request, and the two agree). A page past the end has no row
 * to carry the total, so then it is read on its own.
 */
export async function listCompanyComplaints(
  db: Db,
  companyId: string,
  f: ComplaintFilter,
): Promise<{ rows: ComplaintSummaryRow[]; total: number }> {
  let where = narrowing(companyId, f);
  let total: RawBuilder<unknown>;
  if (f.holder === undefined && f.flagged === undefined) {
    total = countsTotal(companyId, f);
  } else {
    // The counts have no holder or flag column: one person's list is counted on the (company, claimed_by) index
    // instead, and flagged ones on the (company, flagged_at) index.
    if (f.holder !== undefined)
      where = sql`${where} and ${f.holder === null ? sql`claimed_by is null` : sql`claimed_by = ${f.holder}`}`;
    if (f.flagged !== undefined)
      where = sql`${where} and ${f.flagged ? sql`flagged_at is not null` : sql`flagged_at is null`}`;
    total = sql`(select count(*) from complaints where ${where})`;
  }
  const offset = (f.page - 1) * f.limit;
  const { rows } = await sql<ComplaintSummaryRow & { total: number | string | null }>`
    select ${SUMMARY_SELECT}, ${total} as total from complaints where ${where}
    order by created_at desc, escalatr_id desc ${literalLimit(f.limit)} offset ${offset}`.execute(db);
  if (rows.length) return { rows, total: Number(rows[0].total ?? 0) };
  const alone = await sql<{ total: number | string | null }>`select ${total} as total`.execute(db);
  return { rows, total: Number(alone.rows[0]?.total ?? 0) };
}
