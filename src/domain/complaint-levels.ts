import type { Tx } from '../storage/db.js';
import type { ComplaintsTable } from '../storage/schema.js';

import { isActive } from './lifecycle.js';

/**
 * The record SLA reports are computed from, kept by the writes that change a complaint: each level a complaint entered
 * (`complaint_levels`: when it entered and left it, and whether its window was met or breached), its first staff
 * answer and when it closed. Every change goes through `applyChange` and filing, so this is kept in the same
 * transaction as the change itself.
 */

/** The row of the level a new complaint starts at. */
export const firstLevel = (c: ComplaintsTable) =>
  ({
    complaint_id: c.escalatr_id,
    level: c.level,
    company_id: c.company_id,
    complaint_category: c.complaint_category,
    entered_at: c.created_at,
    left_at: null,
    outcome: null,
    decided_at: null,
  }) as const;

/** Whether a level's window is running or paused, and not yet announced as breached. */
const windowOpen = (c: ComplaintsTable) => (c.sla_due_at !== null || c.sla_remaining_s !== null) && c.sla_alerted !== 1;

/**
 * The columns a change sets besides its own (the first answer, the close), and the level rows it moves: the level
 * left on an escalation or a close, the one entered, and the window met when a staff answer stops it before its due
 * time (an answer after it, before the scheduler saw it, is a breach).
 */
export async function recordLevels(
  tx: Tx,
  now: number,
  current: ComplaintsTable,
  patch: Partial<ComplaintsTable>,
): Promise<Partial<ComplaintsTable>> {
  const extra: Partial<ComplaintsTable> = {};
  const answered = patch.last_staff_response_at !== undefined && patch.last_staff_response_at !== null;
  if (answered && current.first_response_at === null) extra.first_response_at = now;
  if (answered && windowOpen(current) && patch.sla_due_at === null) {
    const late = current.sla_due_at !== null && now >= current.sla_due_at;
    await decide(tx, current, late ? 'breached' : 'met', now);
  }
  const closing = isActive(current) && (patch.status === 'Resolved' || patch.status === 'Withdrawn');
  const levelChanges = patch.level !== undefined && patch.level !== current.level;
  if (closing) extra.closed_at = now;
  if (closing || levelChanges) {
    await tx
      .updateTable('complaint_levels')
      .set({ left_at: now })
      .where('complaint_id', '=', current.escalatr_id)
      .where('level', '=', current.level)
      .where('left_at', 'is', null)
      .execute();
  }
  if (levelChanges) {
    await tx
      .insertInto('complaint_levels')
      .values({ ...firstLevel(current), level: patch.level!, entered_at: now })
      .onConflict((oc) => oc.columns(['complaint_id', 'level']).doUpdateSet({ left_at: null }))
      .execute();
  }
  return extra;
}

/** The level's window ended: the first decision stands (a window resumed later at the same level does not change it). */
export async function decide(tx: Tx, c: ComplaintsTable, outcome: 'met' | 'breached', now: number): Promise<void> {
  await tx
    .updateTable('complaint_levels')
    .set({ outcome, decided_at: now })
    .where('complaint_id', '=', c.escalatr_id)
    .where('level', '=', c.level)
    .where('outcome', 'is', null)
    .execute();
}
