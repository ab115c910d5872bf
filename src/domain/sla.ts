import { AppError } from '../errors.js';
import type { Db } from '../storage/db.js';
import type { DomainContext } from './context.js';
import { ESCALATION_LEVELS } from './lifecycle.js';

const HOUR = 3600;

/**
 * Default response window per level, in seconds: the first contact gets three days, and each escalation shortens
 * the time the company has to answer. A company may override any level with its own `sla_windows`.
 */
export const DEFAULT_SLA_WINDOWS_S: Record<string, number> = {
  L1: 72 * HOUR,
  L2: 48 * HOUR,
  L3: 36 * HOUR,
  L4: 24 * HOUR,
  L5: 24 * HOUR,
  L6: 12 * HOUR,
  L7: 12 * HOUR,
  L8: 8 * HOUR,
  L9: 8 * HOUR,
};

/** How long a drafted resolution action waits for a staff response before the complaint escalates. */
export const DEFAULT_ACTION_WAIT_S = 72 * HOUR;

export interface CompanyTimers {
  windows: Record<string, number>;
  actionWaitS: number;
}

export async function companyTimers(db: Db, companyId: string): Promise<CompanyTimers> {
  const row = await db
    .selectFrom('companies')
    .select(['sla_windows', 'action_wait_s'])
    .where('id', '=', companyId)
    .executeTakeFirst();
  const custom = row?.sla_windows ? (JSON.parse(row.sla_windows) as Record<string, number>) : {};
  return { windows: { ...DEFAULT_SLA_WINDOWS_S, ...custom }, actionWaitS: row?.action_wait_s ?? DEFAULT_ACTION_WAIT_S };
}

/** Bounds of a configurable window: at least a minute (the scheduler's granularity), at most 90 days. */
export const MIN_WINDOW_S = 60;
export const MAX_WINDOW_S = 90 * 24 * HOUR;

/** The company's SLA settings as the API shows them: the effective values, and the defaults they override. */
export interface SlaSettingsView {
  windows: Record<string, number>;
  action_wait_s: number;
  defaults: { windows: Record<string, number>; action_wait_s: number };
}

export async function getSlaSettings(db: Db, companyId: string): Promise<SlaSettingsView> {
  const timers = await companyTimers(db, companyId);
  return {
    windows: timers.windows,
    action_wait_s: timers.actionWaitS,
    defaults: { windows: { ...DEFAULT_SLA_WINDOWS_S }, action_wait_s: DEFAULT_ACTION_WAIT_S },
  };
}

function checkSeconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_WINDOW_S || value > MAX_WINDOW_S) {
    throw new AppError(
      'validation_failed',
      `${name} must be a whole number of seconds from ${MIN_WINDOW_S} to ${MAX_WINDOW_S}`,
      { field: name },
    );
  }
  return value;
}

/**
 * Replaces the company's overrides: levels left out of `windows` (and an absent `action_wait_s`) fall back to the
 * defaults. New values apply to windows and waits that start after the change; running ones keep their due time.
 */
export async function setSlaSettings(
  ctx: DomainContext,
  companyId: string,
  input: { windows: Record<string, number>; action_wait_s?: number | null },
): Promise<SlaSettingsView> {
  const windows: Record<string, number> = {};
  for (const [level, seconds] of Object.entries(input.windows)) {
    if (!(ESCALATION_LEVELS as readonly string[]).includes(level))
      throw new AppError('validation_failed', `windows.${level} is not a level (L1 to L9)`, {
        field: `windows.${level}`,
      });
    windows[level] = checkSeconds(`windows.${level}`, seconds);
  }
  const actionWait = input.action_wait_s == null ? null : checkSeconds('action_wait_s', input.action_wait_s);
  await ctx.store.db
    .updateTable('companies')
    .set({ sla_windows: Object.keys(windows).length ? JSON.stringify(windows) : null, action_wait_s: actionWait })
    .where('id', '=', companyId)
    .execute();
  return getSlaSettings(ctx.store.db, companyId);
}

export function slaDueAt(timers: CompanyTimers, level: number, from: number): number {
  return from + (timers.windows[`L${level}`] ?? DEFAULT_SLA_WINDOWS_S.L1) * 1000;
}

export function isOverdue(slaDue: number | null, now: number): boolean {
  return slaDue !== null && now >= slaDue;
}
