import { iso } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import { PLANS, type Plan } from './companies.js';
import type { DomainContext } from './context.js';
import { feedSummary } from './event-feed.js';

export const DAY_MS = 86_400_000;

/**
 * How long each plan keeps delivery history, the event feed and Shield feedback, in days: the default for a
 * company on the plan and the most its owners may choose. The operator may set any window within
 * [1, OPERATOR_MAX_RETENTION_DAYS].
 */
const PLAN_RETENTION_DAYS: Readonly<Record<Plan, number>> = {
  free: 7,
  starter: 30,
  professional: 90,
  enterprise: 365,
};

export const MIN_RETENTION_DAYS = 1;
/** Ten years: the operator's bound, far above any plan's. */
export const OPERATOR_MAX_RETENTION_DAYS = 3650;
/** The longest window a company may choose for itself (the largest plan's). */
export const OWNER_MAX_RETENTION_DAYS = Math.max(...PLANS.map((p) => PLAN_RETENTION_DAYS[p]));

export interface RetentionView {
  days: number;
  default_days: number;
  max_days: number;
  plan: Plan;
  feed_events: number;
  oldest_event_at: string | null;
}

/** A company's window in days: its own setting, or its plan's default. */
export const effectiveRetentionDays = (c: { plan: Plan; retention_days: number | null }): number =>
  c.retention_days === null ? PLAN_RETENTION_DAYS[c.plan] : Number(c.retention_days);

/** The oldest time still kept at `now` for a window of `days`: rows created before it are removed. */
export const retentionCutoff = (now: number, days: number): number => now - days * DAY_MS;

export async function getRetention(db: Db, companyId: string): Promise<RetentionView> {
  const c = await db
    .selectFrom('companies')
    .select(['plan', 'retention_days'])
    .where('id', '=', companyId)
    .executeTakeFirst();
  if (!c) throw notFound('company');
  const feed = await feedSummary(db, companyId);
  return {
    days: effectiveRetentionDays(c),
    default_days: PLAN_RETENTION_DAYS[c.plan],
    max_days: PLAN_RETENTION_DAYS[c.plan],
    plan: c.plan,
    feed_events: feed.events,
    oldest_event_at: feed.oldestAt === null ? null : iso(feed.oldestAt),
  };
}

function checkDays(days: unknown, max: number): number {
  if (typeof days !== 'number' || !Number.isInteger(days) || days < MIN_RETENTION_DAYS || days > max)
    throw new AppError('validation_failed', `days must be a whole number from ${MIN_RETENTION_DAYS} to ${max}`, {
      field: 'days',
    });
  return days;
}

/**
 * An owner's or admin's choice, within the plan: a window longer than the plan keeps is refused with
 * `retention_over_plan` (the operator can grant more with `escalatr company set-retention`).
 */
export async function setOwnRetention(ctx: DomainContext, companyId: string, days: number): Promise<RetentionView> {
  checkDays(days, OPERATOR_MAX_RETENTION_DAYS);
  const current = await getRetention(ctx.store.db, companyId);
  if (days > current.max_days)
    throw new AppError(
      'retention_over_plan',
      `The ${current.plan} plan keeps history for at most ${current.max_days} days`,
      { field: 'days', max_days: current.max_days },
    );
  await ctx.store.db.updateTable('companies').set({ retention_days: days }).where('id', '=', companyId).execute();
  return getRetention(ctx.store.db, companyId);
}

/** The operator's setting, by company code: any window within the operator's bounds, whatever the plan. */
export async function setRetentionByCode(
  ctx: DomainContext,
  code: string,
  days: number,
): Promise<RetentionView & { code: string }> {
  checkDays(days, OPERATOR_MAX_RETENTION_DAYS);
  const row = await ctx.store.db
    .updateTable('companies')
    .set({ retention_days: days })
    .where('code', '=', code)
    .returning(['id'])
    .executeTakeFirst();
  if (!row) throw notFound(`company ${code}`);
  return { code, ...(await getRetention(ctx.store.db, row.id)) };
}
