import { invalidTransition } from '../errors.js';
import type { ComplaintsTable } from '../storage/schema.js';

/** Pure rules of the complaint lifecycle: which step is allowed in which state. Refusals are 409 and emit nothing. */
export const STATUSES = ['Open', 'Escalated', 'Resolved', 'Withdrawn'] as const;
export const STAGES = ['Intake', 'Escalation', 'Closure'] as const;
export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export const LEVELS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9'] as const;
export const MAX_LEVEL = 9;

export type ComplaintState = Pick<ComplaintsTable, 'escalatr_id' | 'status' | 'stage' | 'level' | 'claimed_by'>;

export const levelName = (level: number): string => `L${level}`;
export const levelNumber = (name: string): number => Number(name.slice(1));

export function isActive(c: ComplaintState): boolean {
  return c.status === 'Open' || c.status === 'Escalated';
}

/** Any step on a resolved or withdrawn complaint is refused. */
export function assertActive(c: ComplaintState, step: string): void {
  if (!isActive(c)) throw invalidTransition(`cannot ${step} complaint ${c.escalatr_id}: it is ${c.status}`);
}

export function assertCanEscalate(c: ComplaintState): void {
  assertActive(c, 'escalate');
  if (c.level >= MAX_LEVEL)
    throw invalidTransition(`complaint ${c.escalatr_id} is already at ${levelName(MAX_LEVEL)}, the highest level`);
}

export function assertCanClaim(c: ComplaintState): void {
  assertActive(c, 'claim');
  if (c.stage === 'Closure') throw invalidTransition(`complaint ${c.escalatr_id} is already completed`);
  if (c.claimed_by !== null)
    throw invalidTransition(`complaint ${c.escalatr_id} is already claimed by ${c.claimed_by}`);
}

export function assertCanRelease(c: ComplaintState): void {
  assertActive(c, 'release');
  if (c.claimed_by === null) throw invalidTransition(`complaint ${c.escalatr_id} is not claimed`);
}

export function assertCanComplete(c: ComplaintState): void {
  assertActive(c, 'complete');
  if (c.stage === 'Closure') throw invalidTransition(`complaint ${c.escalatr_id} is already completed`);
}
