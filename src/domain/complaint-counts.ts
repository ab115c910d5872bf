import type { Db } from '../storage/db.js';
import { SUMMARY_COLUMNS, type ComplaintFilter, type ComplaintRow, type ComplaintSummaryRow } from './complaints.js';
import { levelNumber } from './lifecycle.js';

type Narrowing = Omit<ComplaintFilter, 'page' | 'limit'>;

/**
 * How many of a company's complaints match a filter, from the trigger-maintained `complaint_counts` (migration
 * 0002): a sum over at most 108 rows however many complaints there are, and exact, because the triggers run in the
 * transaction of every complaint write.
 */
export async function countCompanyComplaints(db: Db, companyId: string, f: Narrowing): Promise<number> {
  let q = db.selectFrom('complaint_counts').where('company_id', '=', companyId);
  if (f.status) q = q.where('status', '=', f.status as ComplaintRow['status']);
  if (f.stage) q = q.where('stage', '=', f.stage as ComplaintRow['stage']);
  if (f.escalation_level) q = q.where('level', '=', levelNumber(f.escalation_level));
  const row = await q.select((eb) => eb.fn.sum<number | string | null>('n').as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * A company's complaints, newest first, with the total. The page comes off the (company, filter columns,
 * created_at) indexes in order, list-item columns only; the total comes from the counts, and a page past the end
 * is not read at all.
 */
export async function listCompanyComplaints(db: Db, companyId: string, f: ComplaintFilter): Promise<{ rows: ComplaintSummaryRow[]; total: number }> {
  const total = await countCompanyComplaints(db, companyId, f);
  const offset = (f.page - 1) * f.limit;
  if (offset >= total) return { rows: [], total };
  let q = db.selectFrom('complaints').where('company_id', '=', companyId);
  if (f.status) q = q.where('status', '=', f.status as ComplaintRow['status']);
  if (f.stage) q = q.where('stage', '=', f.stage as ComplaintRow['stage']);
  if (f.escalation_level) q = q.where('level', '=', levelNumber(f.escalation_level));
  const rows = await q.select(SUMMARY_COLUMNS).orderBy('created_at', 'desc').orderBy('escalatr_id', 'desc').limit(f.limit).offset(offset).execute();
  return { rows, total };
}
