import { createHash } from 'node:crypto';
import { AppError, invalidTransition, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Selectable } from 'kysely';
import type { ComplaintsTable, Database } from '../storage/schema.js';
import {
  applyChange,
  escalation,
  lockComplaint,
  staffResponse,
  type ComplaintChange,
  type EscalationTrigger,
} from './complaint-changes.js';
import type { ComplaintRow } from './complaints.js';
import { findOrCreateConsumer } from './consumers.js';
import { transact, type DomainContext, type Work } from './context.js';
import { assertActive, assertCanAssign, assertCanClaim, assertCanComplete, assertCanRelease } from './lifecycle.js';
import { companyTimers, resumeWindow, SLA_STOPPED } from './sla.js';
import { normaliseEmail } from './users.js';

/** Who is acting: a consumer on their own complaints, or company staff (a user or an admin API key). */
export type Actor =
  { kind: 'consumer'; consumerId: string; email: string } | { kind: 'staff'; companyId: string; label: string };

const scopeOf = (actor: Actor) =>
  actor.kind === 'consumer' ? { consumerId: actor.consumerId } : { companyId: actor.companyId };

interface StepResult<T> extends ComplaintChange {
  value: T;
}

/**
 * The frame of every complaint step: lock the row within the actor's scope, check the rule, apply the change and
 * write its event, all in one transaction. A refused step throws before anything is written.
 */
async function complaintStep<T>(
  ctx: DomainContext,
  actor: Actor,
  escalatrId: string,
  body: (c: ComplaintRow, work: Work) => Promise<StepResult<T>>,
): Promise<T> {
  return transact(ctx, async (work) => {
    const current = await lockComplaint(ctx, work.tx, escalatrId, scopeOf(actor));
    // Another tenant's complaint answers exactly like a missing one.
    if (!current) throw notFound(`complaint ${escalatrId}`);
    const result = await body(current, work);
    await applyChange(ctx, work, current, result);
    return result.value;
  });
}

/** A step that only changes the complaint (and the records under it) and answers nothing. */
async function changeStep(
  ctx: DomainContext,
  actor: Actor,
  escalatrId: string,
  body: (c: ComplaintRow, work: Work) => Promise<ComplaintChange>,
): Promise<void> {
  await complaintStep(ctx, actor, escalatrId, async (c, work) => ({ ...(await body(c, work)), value: undefined }));
}

/** The records a party answers or acts on: each belongs to one complaint, and is looked up within it. */
type ComplaintRecordTable = 'settlement_offers' | 'followups' | 'action_drafts' | 'social_drafts';

/**
 * One record of the complaint, by id; one of another complaint answers like a missing one. `what` names it in the
 * not-found message.
 */
async function recordOf<T extends ComplaintRecordTable>(
  work: Work,
  table: T,
  id: string,
  c: ComplaintRow,
  what: string,
): Promise<Selectable<Database[T]>> {
  // Every record table has `id` and `complaint_id`; Kysely cannot see that through a type parameter, so the query is
  // typed as one of them and the row as the caller's.
  const row = await work.tx
    .selectFrom(table as 'followups')
    .selectAll()
    .where('id', '=', id)
    .where('complaint_id', '=', c.escalatr_id)
    .executeTakeFirst();
  if (!row) throw notFound(`${what} ${id}`);
  return row as unknown as Selectable<Database[T]>;
}

/** Moves a complaint up one level and starts the new level's response window. */
export async function escalate(
  ctx: DomainContext,
  actor: Actor,
  escalatrId: string,
  trigger: EscalationTrigger = 'manual',
): Promise<ComplaintRow> {
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    const change = await escalation(work, c, trigger);
    return { ...change, value: { ...c, ...change.patch, updated_at: work.now } };
  });
}

export async function claim(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'staff' }>,
  escalatrId: string,
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    assertCanClaim(c);
    return {
      patch: { claimed_by: actor.label, ...staffResponse(work.now) },
      event: 'complaint.claimed',
      data: { claimed_by: actor.label },
    };
  });
}

/**
 * An admin assigns the complaint to a staff user of the company, or reassigns it: `claimed_by` becomes theirs, as
 * if they had claimed it (a claim is assigning oneself). Routing work inside the company is not an answer to the
 * consumer, so the level's response window keeps running. An email that is not one of the company's staff — another
 * company's user included — answers like one that does not exist.
 */
export async function assign(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'staff' }>,
  escalatrId: string,
  assigneeEmail: string,
): Promise<void> {
  const email = normaliseEmail(assigneeEmail);
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    const user = email
      ? await work.tx
          .selectFrom('users')
          .select(['email', 'role'])
          .where('company_id', '=', actor.companyId)
          .where('email', '=', email)
          .executeTakeFirst()
      : undefined;
    if (!user)
      throw new AppError('assignee_not_found', 'assignee is not the email of a staff user of your company', {
        field: 'assignee',
      });
    if (user.role === 'viewer')
      throw new AppError('assignee_cannot_work', `${user.email} is a viewer; viewers cannot work complaints`, {
        field: 'assignee',
      });
    assertCanAssign(c, user.email);
    return {
      patch: { claimed_by: user.email },
      event: 'complaint.assigned',
      data: { assigned_to: user.email, assigned_by: actor.label, previous_assignee: c.claimed_by },
    };
  });
}

export async function release(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'staff' }>,
  escalatrId: string,
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c) => {
    assertCanRelease(c);
    return {
      patch: { claimed_by: null },
      event: 'complaint.released',
      data: { released_by: actor.label },
    };
  });
}

export async function complete(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'staff' }>,
  escalatrId: string,
  resolutionNotes: string,
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    assertCanComplete(c);
    return {
      patch: { stage: 'Closure', resolution_notes: resolutionNotes, ...staffResponse(work.now) },
      event: 'complaint.completed',
      data: { resolution_notes: resolutionNotes, completed_by: actor.label },
    };
  });
}

export async function resolve(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  input: { resolution_type: string; amount_recovered?: number | null },
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c) => {
    assertActive(c, 'resolve');
    const amount = input.amount_recovered ?? null;
    return {
      patch: {
        status: 'Resolved',
        stage: 'Closure',
        resolution_type: input.resolution_type,
        amount_recovered: amount,
        ...SLA_STOPPED,
      },
      event: 'complaint.resolved',
      data: { resolution_type: input.resolution_type, amount_recovered: amount },
    };
  });
}

export async function withdraw(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  reasonCode: string,
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c) => {
    assertActive(c, 'withdraw');
    return {
      patch: { status: 'Withdrawn', stage: 'Closure', withdraw_reason: reasonCode, ...SLA_STOPPED },
      event: 'complaint.withdrawn',
      data: { reason_code: reasonCode },
    };
  });
}

/** Delegates to someone else; with an immediate transfer the delegate becomes the complaint's consumer. */
export async function delegate(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  input: { to_email: string; immediate_transfer: boolean },
): Promise<void> {
  const toEmail = normaliseEmail(input.to_email);
  if (!toEmail) throw new AppError('validation_failed', 'to_email is not a valid address');
  if (toEmail === actor.email) throw new AppError('validation_failed', 'cannot delegate a complaint to yourself');
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'delegate');
    const patch: Partial<ComplaintsTable> = { delegated_to: toEmail };
    if (input.immediate_transfer) patch.consumer_id = (await findOrCreateConsumer(work.tx, toEmail, work.now)).id;
    return {
      patch,
      event: 'complaint.delegated',
      data: { to_email: toEmail, immediate_transfer: input.immediate_transfer },
    };
  });
}

export async function postMessage(
  ctx: DomainContext,
  actor: Actor,
  escalatrId: string,
  input: { body: string; directed_to?: string | null },
): Promise<{ message_id: string }> {
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'message on');
    const id = newId('msg');
    const author = actor.kind === 'consumer' ? actor.email : actor.label;
    const directedTo = input.directed_to ?? (actor.kind === 'consumer' ? 'company' : 'consumer');
    await work.tx
      .insertInto('messages')
      .values({
        id,
        complaint_id: c.escalatr_id,
        company_id: c.company_id,
        author_kind: actor.kind,
        author,
        body: input.body,
        directed_to: directedTo,
        created_at: work.now,
      })
      .execute();
    // A staff reply is a response: it stops the level's SLA clock. Only consumer messages are events (`message.new`
    // is "the consumer posts a chat message to your team"); echoing staff replies would loop back to the company.
    if (actor.kind === 'staff') return { patch: staffResponse(work.now), event: null, value: { message_id: id } };
    return {
      event: 'message.new',
      data: { message_id: id, directed_to: directedTo },
      value: { message_id: id },
    };
  });
}

export const MAX_EVIDENCE_BYTES = 5 * 1024 * 1024;

export async function uploadEvidence(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  input: { file_name: string; content_type: string; content: Buffer },
): Promise<{ evidence_id: string; size: number; sha256: string }> {
  if (input.content.length === 0) throw new AppError('validation_failed', 'content_base64 is empty');
  if (input.content.length > MAX_EVIDENCE_BYTES)
    throw new AppError('payload_too_large', `evidence may be at most ${MAX_EVIDENCE_BYTES} bytes`);
  const sha256 = createHash('sha256').update(input.content).digest('hex');
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'add evidence to');
    const id = newId('evd');
    await work.tx
      .insertInto('evidence')
      .values({
        id,
        complaint_id: c.escalatr_id,
        company_id: c.company_id,
        file_name: input.file_name,
        content_type: input.content_type,
        size: input.content.length,
        sha256,
        content: input.content,
        created_at: work.now,
      })
      .execute();
    return {
      event: 'evidence.uploaded',
      data: { evidence_id: id, file_name: input.file_name },
      value: { evidence_id: id, size: input.content.length, sha256 },
    };
  });
}

export async function offerSettlement(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'staff' }>,
  escalatrId: string,
  input: { amount: number; currency: string; terms: string },
): Promise<{ offer_id: string }> {
  if (!/^[A-Z]{3}$/.test(input.currency)) throw new AppError('validation_failed', 'currency must be an ISO 4217 code');
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'offer a settlement on');
    const id = newId('off');
    await work.tx
      .insertInto('settlement_offers')
      .values({
        id,
        complaint_id: c.escalatr_id,
        company_id: c.company_id,
        amount: input.amount,
        currency: input.currency,
        terms: input.terms,
        status: 'open',
        counter_amount: null,
        created_by: actor.label,
        created_at: work.now,
        responded_at: null,
      })
      .execute();
    return { patch: staffResponse(work.now), event: null, value: { offer_id: id } };
  });
}

export async function respondToSettlement(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  offerId: string,
  input: { action: 'accept' | 'reject' | 'counter'; counter_amount?: number | null },
): Promise<void> {
  if (input.action === 'counter' && (input.counter_amount == null || !(input.counter_amount >= 0))) {
    throw new AppError('validation_failed', 'counter_amount is required to counter an offer');
  }
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'respond to an offer on');
    const offer = await recordOf(work, 'settlement_offers', offerId, c, 'settlement offer');
    if (offer.status !== 'open') throw invalidTransition(`settlement offer ${offerId} was already ${offer.status}`);
    const status = input.action === 'accept' ? 'accepted' : input.action === 'reject' ? 'rejected' : 'countered';
    await work.tx
      .updateTable('settlement_offers')
      .set({
        status,
        counter_amount: input.action === 'counter' ? input.counter_amount! : null,
        responded_at: work.now,
      })
      .where('id', '=', offerId)
      .execute();
    const data: Record<string, unknown> = { action: input.action, offer_id: offerId };
    if (input.action === 'counter') data.counter_amount = input.counter_amount;
    const resumed = await resumeWindow(work.tx, c, work.now);
    return { ...(resumed && { patch: resumed }), event: 'settlement.responded', data };
  });
}

export async function askFollowup(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'staff' }>,
  escalatrId: string,
  question: string,
): Promise<{ followup_id: string }> {
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'ask a follow-up on');
    const id = newId('fup');
    await work.tx
      .insertInto('followups')
      .values({
        id,
        complaint_id: c.escalatr_id,
        company_id: c.company_id,
        question,
        answer: null,
        asked_by: actor.label,
        created_at: work.now,
        answered_at: null,
      })
      .execute();
    return { patch: staffResponse(work.now), event: null, value: { followup_id: id } };
  });
}

export async function answerFollowup(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  followupId: string,
  answer: string,
): Promise<{ all_answered: boolean }> {
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'answer a follow-up on');
    const followup = await recordOf(work, 'followups', followupId, c, 'follow-up');
    if (followup.answer !== null) throw invalidTransition(`follow-up ${followupId} is already answered`);
    await work.tx
      .updateTable('followups')
      .set({ answer, answered_at: work.now })
      .where('id', '=', followupId)
      .execute();
    const open = await work.tx
      .selectFrom('followups')
      .select('id')
      .where('complaint_id', '=', c.escalatr_id)
      .where('answer', 'is', null)
      .executeTakeFirst();
    const allAnswered = !open;
    const resumed = await resumeWindow(work.tx, c, work.now);
    return {
      ...(resumed && { patch: resumed }),
      event: 'followup.replied',
      data: { followup_id: followupId, all_answered: allAnswered },
      value: { all_answered: allAnswered },
    };
  });
}

/** Drafts a resolution action (a formal notice, a regulator filing…); unanswered past the wait window, it escalates. */
export async function draftAction(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  input: { kind: string; body: string },
): Promise<{ action_id: string; draft_id: string }> {
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'draft an action on');
    const timers = await companyTimers(work.tx, c.company_id);
    const existing = await work.tx
      .selectFrom('action_drafts')
      .select('action_id')
      .where('complaint_id', '=', c.escalatr_id)
      .where('kind', '=', input.kind)
      .executeTakeFirst();
    // One action per kind per complaint; each new draft of it is a new draft id.
    const actionId = existing?.action_id ?? newId('act');
    const draftId = newId('drf');
    await work.tx
      .insertInto('action_drafts')
      .values({
        id: draftId,
        action_id: actionId,
        complaint_id: c.escalatr_id,
        company_id: c.company_id,
        kind: input.kind,
        body: input.body,
        status: 'drafted',
        respond_by: work.now + timers.actionWaitS * 1000,
        wait_escalated_at: null,
        created_at: work.now,
        filed_at: null,
      })
      .execute();
    return {
      event: 'action.drafted',
      data: { action_id: actionId, draft_id: draftId, kind: input.kind },
      value: { action_id: actionId, draft_id: draftId },
    };
  });
}

export async function fileAction(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  draftId: string,
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'file an action on');
    const draft = await recordOf(work, 'action_drafts', draftId, c, 'action draft');
    if (draft.status !== 'drafted') throw invalidTransition(`action draft ${draftId} is already ${draft.status}`);
    await work.tx
      .updateTable('action_drafts')
      .set({ status: 'filed', filed_at: work.now })
      .where('id', '=', draftId)
      .execute();
    return { event: 'action.filed', data: { draft_id: draftId, action_id: draft.action_id } };
  });
}

/** A social draft is private to the consumer until it is marked posted, so drafting emits no event. */
export async function draftSocial(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  input: { platform: string; body: string },
): Promise<{ draft_id: string }> {
  return complaintStep(ctx, actor, escalatrId, async (c, work) => {
    assertActive(c, 'draft a social post on');
    const id = newId('soc');
    await work.tx
      .insertInto('social_drafts')
      .values({
        id,
        complaint_id: c.escalatr_id,
        company_id: c.company_id,
        platform: input.platform,
        body: input.body,
        status: 'drafted',
        created_at: work.now,
        posted_at: null,
      })
      .execute();
    return { event: null, value: { draft_id: id } };
  });
}

export async function markSocialPosted(
  ctx: DomainContext,
  actor: Extract<Actor, { kind: 'consumer' }>,
  escalatrId: string,
  draftId: string,
): Promise<void> {
  await changeStep(ctx, actor, escalatrId, async (c, work) => {
    const draft = await recordOf(work, 'social_drafts', draftId, c, 'social draft');
    if (draft.status !== 'drafted') throw invalidTransition(`social draft ${draftId} is already posted`);
    await work.tx
      .updateTable('social_drafts')
      .set({ status: 'posted', posted_at: work.now })
      .where('id', '=', draftId)
      .execute();
    return { event: 'social.posted', data: { draft_id: draftId, platform: draft.platform } };
  });
}
