import { sql, type Kysely } from 'kysely';
import { iso, isoOrNull } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import type {
  ActionDraftsTable,
  ComplaintsTable,
  EvidenceTable,
  FollowupsTable,
  MessagesTable,
  SettlementOffersTable,
  SocialDraftsTable,
} from '../storage/schema.js';
import { firstLevel } from './complaint-levels.js';
import { findCompanyByCode } from './companies.js';
import { transact, type DomainContext } from './context.js';
import { eventTargets, writeEvent } from './events.js';
import { isActive, isCompletedByCompany, levelName, PRIORITIES, type LevelName } from './lifecycle.js';
import { companyTimers, firstWindow, isOverdue } from './sla.js';

export type ComplaintRow = ComplaintsTable;

/** The list item of the Platform API, field for field as published. */
export interface ComplaintSummary {
  escalatr_id: string;
  complaint_category: string;
  status: ComplaintRow['status'];
  stage: ComplaintRow['stage'];
  escalation_level: LevelName;
  priority: ComplaintRow['priority'];
  amount_involved: number | null;
  currency: string | null;
  is_overdue: boolean;
  created_at: string;
}

export interface ComplaintDetail extends ComplaintSummary {
  title: string;
  description: string;
  sla_due_at: string | null;
  /** The window is paused while the company waits on the consumer (an open question or offer); sla_due_at is null. */
  sla_paused: boolean;
  updated_at: string;
  consumer: { email: string; name: string | null } | null;
  claimed_by: string | null;
  /** When the company's breach rule flagged it; null if it has not. */
  flagged_at: string | null;
  delegated_to: string | null;
  resolution: { resolution_type: string | null; amount_recovered: number | null; notes: string | null } | null;
  /** The company has completed it; the consumer's confirmation (resolve) or escalation is awaited. */
  company_completed: boolean;
  /** Who acts next: staff (claim, complete), the consumer (resolve or escalate a completed complaint), or nobody. */
  awaiting: 'company' | 'consumer' | null;
}

/** The columns a list item is made of: list pages read these, not the whole record (description, notes…). */
export const SUMMARY_COLUMNS = [
  'escalatr_id',
  'complaint_category',
  'status',
  'stage',
  'level',
  'priority',
  'amount_involved',
  'currency',
  'sla_due_at',
  'created_at',
] as const;
export type ComplaintSummaryRow = Pick<ComplaintRow, (typeof SUMMARY_COLUMNS)[number]>;

export function toSummary(c: ComplaintSummaryRow, now: number): ComplaintSummary {
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
    created_at: iso(c.created_at),
  };
}

function toDetail(
  c: ComplaintRow,
  consumer: { email: string; name: string | null } | null,
  now: number,
): ComplaintDetail {
  const hasResolution = c.resolution_type !== null || c.resolution_notes !== null || c.amount_recovered !== null;
  return {
    ...toSummary(c, now),
    title: c.title,
    description: c.description,
    sla_due_at: isoOrNull(c.sla_due_at),
    sla_paused: isActive(c) && c.sla_remaining_s !== null,
    updated_at: iso(c.updated_at),
    consumer,
    claimed_by: c.claimed_by,
    flagged_at: isoOrNull(c.flagged_at),
    delegated_to: c.delegated_to,
    resolution: hasResolution
      ? { resolution_type: c.resolution_type, amount_recovered: c.amount_recovered, notes: c.resolution_notes }
      : null,
    company_completed: isCompletedByCompany(c),
    awaiting: !isActive(c) ? null : isCompletedByCompany(c) ? 'consumer' : 'company',
  };
}

/**
 * The payload every complaint event carries: its id, its state after the change, and what endpoint filters and
 * transformations route on (category and priority).
 */
export function eventBase(
  c: Pick<ComplaintRow, 'escalatr_id' | 'status' | 'level' | 'complaint_category' | 'priority'>,
) {
  return {
    escalatr_id: c.escalatr_id,
    status: c.status,
    escalation_level: levelName(c.level),
    complaint_category: c.complaint_category,
    priority: c.priority,
  };
}

/** The form every Escalatr id has (formatEscalatrId): what the API accepts as one, and a complaint cursor names. */
export const ESCALATR_ID_PATTERN = '^ESC-[A-Z]{2,8}-\\d{6}-\\d{5,}$';

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
  // An unknown code is a bad field of the body; a store failure is not, and must not be reported as one.
  const company = await findCompanyByCode(ctx.store.db, input.company_code);
  if (!company)
    throw new AppError('validation_failed', `no company with code ${input.company_code}`, { field: 'company_code' });
  if (input.currency != null && !/^[A-Z]{3}$/.test(input.currency)) {
    throw new AppError('validation_failed', 'currency must be an ISO 4217 code such as INR or USD');
  }
  if (input.amount_involved != null && (!Number.isFinite(input.amount_involved) || input.amount_involved < 0)) {
    throw new AppError('validation_failed', 'amount_involved must be a non-negative number');
  }
  const timers = await companyTimers(ctx.store.db, company.id);
  return transact(ctx, async (work) => {
    const { tx, now } = work;
    const targets = await eventTargets(ctx, work, { companyId: company.id, name: 'complaint.created' });
    // Both numbers in one statement: from here to the commit the company row is locked (see eventTargets).
    const seqRow = await tx
      .updateTable('companies')
      .set({ complaint_seq: sql`complaint_seq + 1`, event_seq: sql`event_seq + 1` })
      .where('id', '=', company.id)
      .returning(['complaint_seq', 'event_seq'])
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
      ...firstWindow(timers, 1, now),
      last_staff_response_at: null,
      claimed_by: null,
      delegated_to: null,
      resolution_type: null,
      amount_recovered: null,
      resolution_notes: null,
      withdraw_reason: null,
      flagged_at: null,
      first_response_at: null,
      closed_at: null,
      created_at: now,
      updated_at: now,
    };
    await writeEvent(
      ctx,
      work,
      {
        companyId: company.id,
        name: 'complaint.created',
        complaintId: complaint.escalatr_id,
        data: eventBase(complaint),
      },
      targets,
      Number(seqRow.event_seq),
      [tx.insertInto('complaints').values(complaint), tx.insertInto('complaint_levels').values(firstLevel(complaint))],
    );
    return complaint;
  });
}

export async function getComplaintRow(
  db: Db,
  scope: { companyId?: string; consumerId?: string },
  escalatrId: string,
): Promise<ComplaintRow> {
  let q = db.selectFrom('complaints').selectAll().where('escalatr_id', '=', escalatrId);
  if (scope.companyId) q = q.where('company_id', '=', scope.companyId);
  if (scope.consumerId) q = q.where('consumer_id', '=', scope.consumerId);
  const row = await q.executeTakeFirst();
  // Another tenant's complaint answers exactly like a missing one.
  if (!row) throw notFound(`complaint ${escalatrId}`);
  return row;
}

export async function getComplaintDetail(
  db: Db,
  scope: { companyId?: string; consumerId?: string },
  escalatrId: string,
  now: number,
): Promise<ComplaintDetail> {
  const row = await getComplaintRow(db, scope, escalatrId);
  return complaintDetailOf(scope, row, await consumerContact(db, row.consumer_id), now);
}

/** What a complaint's detail shows of the consumer who filed it; null when the consumer is gone. */
export async function consumerContact(
  db: Db,
  consumerId: string,
): Promise<{ email: string; name: string | null } | null> {
  const consumer = await db
    .selectFrom('consumers')
    .select(['email', 'name'])
    .where('id', '=', consumerId)
    .executeTakeFirst();
  return consumer ?? null;
}

/** A complaint's detail as `scope` (its company, or its consumer) sees it, from its row and its consumer's contact. */
export function complaintDetailOf(
  scope: { companyId?: string; consumerId?: string },
  row: ComplaintRow,
  consumer: { email: string; name: string | null } | null,
  now: number,
): ComplaintDetail {
  const detail = toDetail(row, consumer, now);
  // The breach rule's flag is the company's own working marker.
  return scope.consumerId ? { ...detail, flagged_at: null } : detail;
}

export interface ComplaintFilter {
  status?: string;
  stage?: string;
  escalation_level?: string;
  /** Only complaints held (claimed or assigned) by this staff label; null: held by nobody. Company lists only. */
  holder?: string | null;
  /** Only complaints the breach rule flagged (true) or not (false). Company lists only. */
  flagged?: boolean;
  page: number;
  limit: number;
}

/**
 * One consumer's own complaints, newest first (the company lists are company-complaint-list.ts). The consumer is
 * required: there is no way to call this for every consumer's complaints at once.
 */
export async function listConsumerComplaints(
  db: Db,
  consumerId: string,
  f: Omit<ComplaintFilter, 'holder' | 'flagged'>,
): Promise<{ rows: ComplaintRow[]; total: number }> {
  let q = db.selectFrom('complaints').where('consumer_id', '=', consumerId);
  if (f.status) q = q.where('status', '=', f.status as ComplaintRow['status']);
  if (f.stage) q = q.where('stage', '=', f.stage as ComplaintRow['stage']);
  if (f.escalation_level) q = q.where('level', '=', Number(f.escalation_level.slice(1)));
  const [rows, count] = await Promise.all([
    q
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('escalatr_id', 'desc')
      .limit(f.limit)
      .offset((f.page - 1) * f.limit)
      .execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

// ── Related records: what each side may read of one complaint ────────────────────────────────────────────────

export type ComplaintScope = { companyId?: string; consumerId?: string };
export interface RecordPage {
  page: number;
  limit: number;
}
export interface PageOf<T> {
  rows: T[];
  total: number;
}

export interface MessageView {
  id: string;
  author_kind: 'consumer' | 'staff';
  author: string;
  body: string;
  directed_to: string | null;
  created_at: string;
}

/** Evidence metadata only: the bytes are served by getEvidenceContent, never inside a list. */
export interface EvidenceView {
  id: string;
  file_name: string;
  content_type: string;
  size: number;
  sha256: string;
  created_at: string;
}

export interface SettlementOfferView {
  id: string;
  amount: number;
  currency: string;
  terms: string;
  status: 'open' | 'accepted' | 'rejected' | 'countered';
  counter_amount: number | null;
  created_by: string;
  created_at: string;
  responded_at: string | null;
}

export interface FollowupView {
  id: string;
  question: string;
  answer: string | null;
  asked_by: string;
  created_at: string;
  answered_at: string | null;
}

export interface ActionDraftView {
  action_id: string;
  draft_id: string;
  kind: string;
  body: string;
  status: 'drafted' | 'filed';
  respond_by: string;
  created_at: string;
  filed_at: string | null;
}

export interface SocialDraftView {
  draft_id: string;
  platform: string;
  body: string;
  status: 'drafted' | 'posted';
  created_at: string;
  posted_at: string | null;
}

/** An event of the complaint exactly as webhooks carry it. */
export interface ComplaintEventView {
  id: string;
  event: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * Counts and pages one complaint's rows of a table, oldest first; the (complaint_id, created_at) index serves both.
 * Ids are random, so rows of the same millisecond come in a stable but arbitrary order.
 */
async function pageRelated<R>(
  db: Db,
  table: 'messages' | 'evidence' | 'settlement_offers' | 'followups' | 'action_drafts' | 'social_drafts',
  complaintId: string,
  page: RecordPage,
  columns: readonly string[],
  narrow?: { column: string; value: string },
): Promise<PageOf<R>> {
  // The table name varies, so the builder is used untyped here; the public functions below give the row types.
  const base = () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let q = (db as unknown as Kysely<any>).selectFrom(table).where('complaint_id', '=', complaintId);
    if (narrow) q = q.where(narrow.column, '=', narrow.value);
    return q;
  };
  const [rows, count] = await Promise.all([
    base()
      .select(columns)
      .orderBy('created_at')
      .orderBy('id')
      .limit(page.limit)
      .offset((page.page - 1) * page.limit)
      .execute() as Promise<R[]>,
    base()
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .select((eb: any) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow() as Promise<{ n: unknown }>,
  ]);
  return { rows, total: Number(count.n) };
}

export async function listMessages(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<MessageView>> {
  await getComplaintRow(db, scope, escalatrId);
  const { rows, total } = await pageRelated<MessagesTable>(db, 'messages', escalatrId, page, [
    'id',
    'author_kind',
    'author',
    'body',
    'directed_to',
    'created_at',
  ]);
  return {
    total,
    rows: rows.map((r) => ({
      id: r.id,
      author_kind: r.author_kind,
      author: r.author,
      body: r.body,
      directed_to: r.directed_to,
      created_at: iso(r.created_at),
    })),
  };
}

export async function listEvidence(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<EvidenceView>> {
  await getComplaintRow(db, scope, escalatrId);
  const { rows, total } = await pageRelated<EvidenceTable>(db, 'evidence', escalatrId, page, [
    'id',
    'file_name',
    'content_type',
    'size',
    'sha256',
    'created_at',
  ]);
  return {
    total,
    rows: rows.map((r) => ({
      id: r.id,
      file_name: r.file_name,
      content_type: r.content_type,
      size: Number(r.size),
      sha256: r.sha256,
      created_at: iso(r.created_at),
    })),
  };
}

/** The stored bytes of one piece of evidence, for a download route. */
export async function getEvidenceContent(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  evidenceId: string,
): Promise<{ file_name: string; content_type: string; sha256: string; content: Buffer }> {
  await getComplaintRow(db, scope, escalatrId);
  const row = await db
    .selectFrom('evidence')
    .select(['file_name', 'content_type', 'sha256', 'content'])
    .where('id', '=', evidenceId)
    .where('complaint_id', '=', escalatrId)
    .executeTakeFirst();
  if (!row) throw notFound(`evidence ${evidenceId}`);
  return { ...row, content: Buffer.from(row.content) };
}

export async function listSettlementOffers(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<SettlementOfferView>> {
  await getComplaintRow(db, scope, escalatrId);
  const { rows, total } = await pageRelated<SettlementOffersTable>(db, 'settlement_offers', escalatrId, page, [
    'id',
    'amount',
    'currency',
    'terms',
    'status',
    'counter_amount',
    'created_by',
    'created_at',
    'responded_at',
  ]);
  return {
    total,
    rows: rows.map((r) => ({
      id: r.id,
      amount: Number(r.amount),
      currency: r.currency,
      terms: r.terms,
      status: r.status,
      counter_amount: r.counter_amount === null ? null : Number(r.counter_amount),
      created_by: r.created_by,
      created_at: iso(r.created_at),
      responded_at: isoOrNull(r.responded_at),
    })),
  };
}

export async function listFollowups(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<FollowupView>> {
  await getComplaintRow(db, scope, escalatrId);
  const { rows, total } = await pageRelated<FollowupsTable>(db, 'followups', escalatrId, page, [
    'id',
    'question',
    'answer',
    'asked_by',
    'created_at',
    'answered_at',
  ]);
  return {
    total,
    rows: rows.map((r) => ({
      id: r.id,
      question: r.question,
      answer: r.answer,
      asked_by: r.asked_by,
      created_at: iso(r.created_at),
      answered_at: isoOrNull(r.answered_at),
    })),
  };
}

export async function listActionDrafts(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<ActionDraftView>> {
  await getComplaintRow(db, scope, escalatrId);
  const { rows, total } = await pageRelated<ActionDraftsTable>(db, 'action_drafts', escalatrId, page, [
    'id',
    'action_id',
    'kind',
    'body',
    'status',
    'respond_by',
    'created_at',
    'filed_at',
  ]);
  return {
    total,
    rows: rows.map((r) => ({
      action_id: r.action_id,
      draft_id: r.id,
      kind: r.kind,
      body: r.body,
      status: r.status,
      respond_by: iso(r.respond_by),
      created_at: iso(r.created_at),
      filed_at: isoOrNull(r.filed_at),
    })),
  };
}

/** A social draft is the consumer's own until it is posted: staff see only posted ones. */
export async function listSocialDrafts(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
  opts: { postedOnly: boolean },
): Promise<PageOf<SocialDraftView>> {
  await getComplaintRow(db, scope, escalatrId);
  const narrow = opts.postedOnly ? { column: 'status', value: 'posted' } : undefined;
  const { rows, total } = await pageRelated<SocialDraftsTable>(
    db,
    'social_drafts',
    escalatrId,
    page,
    ['id', 'platform', 'body', 'status', 'created_at', 'posted_at'],
    narrow,
  );
  return {
    total,
    rows: rows.map((r) => ({
      draft_id: r.id,
      platform: r.platform,
      body: r.body,
      status: r.status,
      created_at: iso(r.created_at),
      posted_at: isoOrNull(r.posted_at),
    })),
  };
}

/** The complaint's event timeline, oldest first, each event as its receivers got it. */
export async function listComplaintEvents(
  db: Db,
  scope: ComplaintScope,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<ComplaintEventView>> {
  const c = await getComplaintRow(db, scope, escalatrId);
  // Filtering by company too keeps the (company_id, complaint_id, seq) index in use.
  const base = db.selectFrom('events').where('company_id', '=', c.company_id).where('complaint_id', '=', escalatrId);
  const [rows, count] = await Promise.all([
    base
      .select('body')
      .orderBy('seq')
      .limit(page.limit)
      .offset((page.page - 1) * page.limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { total: Number(count.n), rows: rows.map((r) => JSON.parse(r.body) as ComplaintEventView) };
}
