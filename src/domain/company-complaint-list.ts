import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../storage/db.js';
import { SUMMARY_COLUMNS, type ComplaintFilter, type ComplaintSummaryRow } from './complaints.js';
import { levelNumber } from './lifecycle.js';

type Narrowing = Omit<ComplaintFilter, 'page' | 'limit' | 'holder' | 'flagged'>;

/**
 * How many of a company's complaints match a filter, from the trigger-maintained `complaint_counts` (migration
 * 0002): a sum over at most 108 rows however many complaints there are, and exact, because the triggers run in the
 * transaction of every complaint write.
 */
async function countCompanyComplaints(db: Db, companyId: string, f: Narrowing): Promise<number> {
  const { rows } = await sql<{
    n: number | string | null;
  }>`select sum(n) as n from complaint_counts where ${narrowing(companyId, f)}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

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
 * created_at) indexes in order, list-item columns only; the total comes from the counts, and a page past the end
 * is not read at all.
 */
export async function listCompanyComplaints(
  db: Db,
  companyId: string,
  f: ComplaintFilter,
): Promise<{ rows: ComplaintSummaryRow[]; total: number }> {
  let where = narrowing(companyId, f);
  let total: number;
  if (f.holder === undefined && f.flagged === undefined) {
    total = await countCompanyComplaints(db, companyId, f);
  } else {
    // The counts have no holder or flag column: one person's list is counted on the (company, claimed_by) index
    // instead, and flagged ones on the (company, flagged_at) index.
    if (f.holder !== undefined)
      where = sql`${where} and ${f.holder === null ? sql`claimed_by is null` : sql`claimed_by = ${f.holder}`}`;
    if (f.flagged !== undefined)
      where = sql`${where} and ${f.flagged ? sql`flagged_at is not null` : sql`flagged_at is null`}`;
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from complaints where ${where}`.execute(db);
    total = Number(rows[0]?.n ?? 0);
  }
  const offset = (f.page - 1) * f.limit;
  if (offset >= total) return { rows: [], total };
  const { rows } = await sql<ComplaintSummaryRow>`
    select ${SUMMARY_SELECT} from complaints where ${where}
    order by created_at desc, escalatr_id desc limit ${f.limit} offset ${offset}`.execute(db);
  return { rows, total };
}
