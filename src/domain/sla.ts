import type { Db } from '../storage/db.js';

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
  const row = await db.selectFrom('companies').select(['sla_windows', 'action_wait_s']).where('id', '=', companyId).executeTakeFirst();
  const custom = row?.sla_windows ? (JSON.parse(row.sla_windows) as Record<string, number>) : {};
  return { windows: { ...DEFAULT_SLA_WINDOWS_S, ...custom }, actionWaitS: row?.action_wait_s ?? DEFAULT_ACTION_WAIT_S };
}

export function slaDueAt(timers: CompanyTimers, level: number, from: number): number {
  return from + (timers.windows[`L${level}`] ?? DEFAULT_SLA_WINDOWS_S.L1) * 1000;
}

export function isOverdue(slaDue: number | null, now: number): boolean {
  return slaDue !== null && now >= slaDue;
}
