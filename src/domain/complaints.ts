import { sql } from 'kysely';
import { AppError, notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import type { ComplaintsTable } from '../storage/schema.js';
import { getCompanyByCode } from './companies.js';
import { transact, type DomainContext } from './context.js';
import { emitEvent } from './events.js';
import { levelName, PRIORITIES } from './lifecycle.js';
import { companyTimers, isOverdue, slaDueAt } from './sla.js';

export type ComplaintRow = ComplaintsTable;

/** The list item of the Platform API seed, field for field. */
export interface ComplaintSummary {
  escalatr_id: string;
  complaint_category: string;
  status: string;
  stage: string;
  escalation_level: string;
  priority: string;
  amount_involved: number | null;
  currency: string | null;
  is_overdue: boolean;
  created_at: string;
}

export interface ComplaintDetail extends ComplaintSummary {
  title: string;
  description: string;
  sla_due_at: string | null;
  updated_at: string;
  consumer: { email: string; name: string | null } | null;
  claimed_by: string | null;
  delegated_to: string | null;
  resolution: { resolution_type: string | null; amount_recovered: number | null; notes: string | null } | null;
}

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toSummary(c: ComplaintRow, now: number): ComplaintSummary {
  return {
    escalatr_id: c.escalatr_id,
    complaint_category: c.complaint_category,
    status: c.status,
    stage: c.stage,
    escalation_level: levelName(c.level),
    priority: c.priority,
    amount_involved: c.amount_involved,
    currency: c.currency,
    is_overdue: c.status !== 'Resolved' && c.status !== 'Withdrawn' && isOverdue(c.sla_due_at, now),
    created_at: new Date(c.created_at).toISOString(),
  };
}

export function toDetail(c: ComplaintRow, consumer: { email: string; name: string | null } | null, now: number): ComplaintDetail {
  const hasResolution = c.resolution_type !== null || c.resolution_notes !== null || c.amount_recovered !== null;
  return {
    ...toSummary(c, now),
    title: c.title,
    description: c.description,
    sla_due_at: isoOrNull(c.sla_due_at),
    updated_at: new Date(c.updated_at).toISOString(),
    consumer,
    claimed_by: c.claimed_by,
    delegated_to: c.delegated_to,
    resolution: hasResolution
      ? { resolution_type: c.resolution_type, amount_recovered: c.amount_recovered, notes: c.resolution_notes }
      : null,
  };
}

/** The payload every complaint event carries: its id and state after the change. */
export function eventBase(c: Pick<ComplaintRow, 'escalatr_id' | 'status' | 'level'>) {
  return { escalatr_id: c.escalatr_id, status: c.status, escalation_level: levelName(c.level) };
}

export function formatEscalatrId(code: string, at: number, seq: number): string {
  const d = new Date(at);
  const yymmdd = `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return `ESC-${code}-${yymmdd}-${String(seq).padStart(5, '0')}`;
}

export interface FileComplaintInput {
  consumerId: string;
  company_code: string;
  complaint_category: string;
  title: string;
  description: string;
  priority?: (typeof PRIORITIES)[number];
  amount_involved?: number | null;
  currency?: string | null;
}

/** Files a complaint: its id takes the next number of the company's sequence, under the company row's lock. */
export async function fileComplaint(ctx: DomainContext, input: FileComplaintInput): Promise<ComplaintRow> {
  const company = await getCompanyByCode(ctx.store.db, input.company_code).catch(() => {
    throw new AppError('validation_failed', `no company with code ${input.company_code}`);
  });
  if (input.currency != null && !/^[A-Z]{3}$/.test(input.currency)) {
    throw new AppError('validation_failed', 'currency must be an ISO 4217 code such as INR or USD');
  }
  if (input.amount_involved != null && (!Number.isFinite(input.amount_involved) || input.amount_involved < 0)) {
    throw new AppError('validation_failed', 'amount_involved must be a non-negative number');
  }
  const timers = await companyTimers(ctx.store.db, company.id);
  return transact(ctx, async (work) => {
    const { tx, now } = work;
    const seqRow = await tx
      .updateTable('companies')
      .set({ complaint_seq: sql`complaint_seq + 1` })
      .where('id', '=', company.id)
      .returning('complaint_seq')
      .executeTakeFirstOrThrow();
    const complaint: ComplaintRow = {
      escalatr_id: formatEscalatrId(company.code, now, Number(seqRow.complaint_seq)),
      company_id: company.id,
      consumer_id: input.consumerId,
      complaint_category: input.complaint_category,
      title: input.title,
      description: input.description,
      status: 'Open',
      stage: 'Intake',
      level: 1,
      priority: input.priority ?? 'medium',
      amount_involved: input.amount_involved ?? null,
      currency: input.currency ?? null,
      sla_due_at: slaDueAt(timers, 1, now),
      last_staff_response_at: null,
      claimed_by: null,
      delegated_to: null,
      resolution_type: null,
      amount_recovered: null,
      resolution_notes: null,
      withdraw_reason: null,
      created_at: now,
      updated_at: now,
    };
    await tx.insertInto('complaints').values(complaint).execute();
    await emitEvent(ctx, work, {
      companyId: company.id,
      name: 'complaint.created',
      complaintId: complaint.escalatr_id,
      data: { ...eventBase(complaint), complaint_category: complaint.complaint_category, priority: complaint.priority },
    });
    return complaint;
  });
}

export async function getComplaintRow(db: Db, scope: { companyId?: string; consumerId?: string }, escalatrId: string): Promise<ComplaintRow> {
  let q = db.selectFrom('complaints').selectAll().where('escalatr_id', '=', escalatrId);
  if (scope.companyId) q = q.where('company_id', '=', scope.companyId);
  if (scope.consumerId) q = q.where('consumer_id', '=', scope.consumerId);
  const row = await q.executeTakeFirst();
  // Another tenant's complaint answers exactly like a missing one.
  if (!row) throw notFound(`complaint ${escalatrId}`);
  return row;
}

export async function getComplaintDetail(db: Db, scope: { companyId?: string; consumerId?: string }, escalatrId: string, now: number): Promise<ComplaintDetail> {
  const row = await getComplaintRow(db, scope, escalatrId);
  const consumer = await db.selectFrom('consumers').select(['email', 'name']).where('id', '=', row.consumer_id).executeTakeFirst();
  return toDetail(row, consumer ?? null, now);
}

export interface ComplaintFilter {
  status?: string;
  stage?: string;
  escalation_level?: string;
  page: number;
  limit: number;
}

/** Newest first; the (company, filter column, created_at) indexes keep this flat as the table grows. */
export async function listComplaints(
  db: Db,
  scope: { companyId?: string; consumerId?: string },
  f: ComplaintFilter,
): Promise<{ rows: ComplaintRow[]; total: number }> {
  let q = db.selectFrom('complaints');
  if (scope.companyId) q = q.where('company_id', '=', scope.companyId);
  if (scope.consumerId) q = q.where('consumer_id', '=', scope.consumerId);
  if (f.status) q = q.where('status', '=', f.status as ComplaintRow['status']);
  if (f.stage) q = q.where('stage', '=', f.stage as ComplaintRow['stage']);
  if (f.escalation_level) q = q.where('level', '=', Number(f.escalation_level.slice(1)));
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('escalatr_id', 'desc').limit(f.limit).offset((f.page - 1) * f.limit).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
