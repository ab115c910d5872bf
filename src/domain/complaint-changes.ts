import type { Tx } from '../storage/db.js';
import type { ComplaintsTable } from '../storage/schema.js';
import { recordLevels } from './complaint-levels.js';
import { eventBase, type ComplaintRow } from './complaints.js';
import type { DomainContext, Work } from './context.js';
import { emitEvent, type EventName } from './events.js';
import { assertCanEscalate, levelName } from './lifecycle.js';
import { SLA_STOPPED, startWindow } from './sla.js';

/**
 * How a complaint's state changes, whoever changes it: a consumer or staff step, or the scheduler. Each change is
 * built by one function here and written by `applyChange`, so a manual escalation and an automatic one cannot drift
 * apart in what they set or what their event says.
 */

/** Whose complaints a caller may change: a consumer's own, or one company's. No scope is the scheduler's view. */
export type ComplaintScope = { consumerId: string } | { companyId: string };

/**
 * Reads the complaint a change is about, locked until commit. On PostgreSQL the row lock keeps two changes to one
 * complaint from interleaving (two escalations would both read L1); a SQLite transaction holds the database's write
 * lock from its start, so the plain read is already current. Another tenant's complaint reads as missing.
 */
export async function lockComplaint(
  ctx: DomainContext,
  tx: Tx,
  escalatrId: string,
  scope?: ComplaintScope,
): Promise<ComplaintRow | undefined> {
  let q = tx.selectFrom('complaints').selectAll().where('escalatr_id', '=', escalatrId);
  if (scope && 'consumerId' in scope) q = q.where('consumer_id', '=', scope.consumerId);
  if (scope && 'companyId' in scope) q = q.where('company_id', '=', scope.companyId);
  return ctx.store.profile.rowLocks ? q.forUpdate().executeTakeFirst() : q.executeTakeFirst();
}

/** A change to one complaint: the columns it sets and the event it emits (null: a record the catalogue has none for). */
export interface ComplaintChange {
  patch?: Partial<ComplaintsTable>;
  event: EventName | null;
  data?: Record<string, unknown>;
}

/**
 * Writes a change to a complaint read with `lockComplaint`, and its event with the state after it, in the caller's
 * transaction. Returns the row as it now is.
 */
export async function applyChange(
  ctx: DomainContext,
  work: Work,
  current: ComplaintRow,
  change: ComplaintChange,
): Promise<ComplaintRow> {
  // A change that sets nothing and tells no one (a consumer's private social draft) leaves the row as it was, so
  // not even `updated_at` gives it away to the company.
  if (!change.patch && !change.event) return current;
  const patch = {
    ...change.patch,
    ...(change.patch && (await recordLevels(work.tx, work.now, current, change.patch))),
  };
  const next: ComplaintRow = { ...current, ...patch, updated_at: work.now };
  await work.tx
    .updateTable('complaints')
    .set({ ...patch, updated_at: work.now })
    .where('escalatr_id', '=', current.escalatr_id)
    .execute();
  if (change.event) {
    await emitEvent(ctx, work, {
      companyId: current.company_id,
      name: change.event,
      complaintId: current.escalatr_id,
      data: { ...eventBase(next), ...change.data },
    });
  }
  return next;
}

export type EscalationTrigger = 'manual' | 'auto_action_wait' | 'auto_sla';

/**
 * One level up, with the new level's response window starting now (paused if the company pauses for the consumer and
 * waits on them); refused past the last level or once closed.
 */
export async function escalation(work: Work, c: ComplaintRow, trigger: EscalationTrigger): Promise<ComplaintChange> {
  assertCanEscalate(c);
  const level = c.level + 1;
  const window = await startWindow(work.tx, c.company_id, c.escalatr_id, level, work.now);
  return {
    patch: { level, status: 'Escalated', stage: 'Escalation', ...window },
    event: 'complaint.escalated',
    data: { to_level: levelName(level), trigger },
  };
}

/** Any staff answer (claim, reply, offer, question, completion) stops the level's response window. */
export const staffResponse = (now: number): Partial<ComplaintsTable> => ({
  last_staff_response_at: now,
  ...SLA_STOPPED,
});
