import { AppError, invalidTransition } from '../errors.js';
import type { ComplaintsTable } from '../storage/schema.js';

/** Pure rules of the complaint lifecycle: which step is allowed in which state. Refusals are 409 and emit nothing. */
export const STATUSES = ['Open', 'Escalated', 'Resolved', 'Withdrawn'] as const;
export const STAGES = ['Intake', 'Escalation', 'Closure'] as const;
export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export const ESCALATION_LEVELS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9'] as const;
export const MAX_LEVEL = 9;

export type ComplaintState = Pick<ComplaintsTable, 'escalatr_id' | 'status' | 'stage' | 'level' | 'claimed_by'>;

export type LevelName = (typeof ESCALATION_LEVELS)[number];
/** Stored levels are 1..MAX_LEVEL (escalation never goes past it), so the name is always one of ESCALATION_LEVELS. */
export const levelName = (level: number): LevelName => `L${level}` as LevelName;
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

/**
 * The company has completed the complaint (staff closed their side with resolution notes) and the consumer's answer
 * is awaited: they confirm it with resolve, or escalate it, which reopens the staff side at the next level.
 */
export function isCompletedByCompany(c: ComplaintState): boolean {
  return isActive(c) && c.stage === 'Closure';
}

/**
 * Staff steps, in the order a complaint goes through them: claim, then release or complete. Each refusal has its own
 * code so a client can tell "claim it first" from "already done"; a resolved or withdrawn complaint refuses them all
 * with invalid_transition, like every other step.
 */
function assertNotCompleted(c: ComplaintState): void {
  if (isCompletedByCompany(c))
    throw new AppError(
      'already_completed',
      `complaint ${c.escalatr_id} is already completed; the consumer resolves or escalates it next`,
    );
}

export function assertCanClaim(c: ComplaintState): void {
  assertActive(c, 'claim');
  assertNotCompleted(c);
  if (c.claimed_by !== null)
    throw new AppError('already_claimed', `complaint ${c.escalatr_id} is already claimed by ${c.claimed_by}`);
}

export function assertCanRelease(c: ComplaintState): void {
  assertActive(c, 'release');
  assertNotCompleted(c);
  if (c.claimed_by === null) throw new AppError('not_claimed', `complaint ${c.escalatr_id} is not claimed`);
}

export function assertCanComplete(c: ComplaintState): void {
  assertActive(c, 'complete');
  assertNotCompleted(c);
  if (c.claimed_by === null)
    throw new AppError('not_claimed', `complaint ${c.escalatr_id} must be claimed before it can be completed`);
}
