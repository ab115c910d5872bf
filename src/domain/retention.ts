import { iso } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import { historyClassOf } from '../storage/history-partitions.js';
import { PLANS, type Plan } from './plans.js';
import type { DomainContext } from './context.js';
import { feedSummary } from './event-feed.js';

export const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

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
/** The operator's window in minutes has the same bounds as in days: a minute up to ten years. */
export const MIN_RETENTION_MINUTES = 1;
export const OPERATOR_MAX_RETENTION_MINUTES = OPERATOR_MAX_RETENTION_DAYS * 1440;

export interface RetentionView {
  days: number;
  default_days: number;
  max_days: number;
  plan: Plan;
  feed_events: number;
  oldest_event_at: string | null;
}

interface RetentionSettings {
  plan: Plan;
  retention_days: number | null;
  retention_minutes: number | null;
}

/**
 * A company's window in days as owners see it: its own setting, or its plan's default. An operator's window in
 * minutes shows as the whole days it starts to fall within (two minutes show as 1 day).
 */
const effectiveRetentionDays = (c: RetentionSettings): number =>
  c.retention_minutes !== null
    ? Math.ceil(Number(c.retention_minutes) / 1440)
    : c.retention_days === null
      ? PLAN_RETENTION_DAYS[c.plan]
      : Number(c.retention_days);

/** A company's window in milliseconds: the operator's minutes when set, else its days. */
const retentionWindowMs = (c: RetentionSettings): number =>
  c.retention_minutes !== null ? Number(c.retention_minutes) * MINUTE_MS : effectiveRetentionDays(c) * DAY_MS;

/** The company's retention class (companies.history_class): the partitions its attempt rows are written to. */
export const historyClass = (c: RetentionSettings): number => historyClassOf(retentionWindowMs(c));

/** The oldest time still kept at `now` for this company: rows created before it are removed. */
export const retentionCutoff = (now: number, c: RetentionSettings): number => now - retentionWindowMs(c);

export async function getRetention(db: Db, companyId: string): Promise<RetentionView> {
  const c = await db
    .selectFrom('companies')
    .select(['plan', 'retention_days', 'retention_minutes'])
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

function checkWhole(field: 'days' | 'minutes', value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new AppError('validation_failed', `${field} must be a whole number from ${min} to ${max}`, { field });
  return value;
}
const checkDays = (days: unknown, max: number) => checkWhole('days', days, MIN_RETENTION_DAYS, max);

/**
 * An owner's or admin's choice, within the plan: a window longer than the plan keeps is refused with
 * `retention_over_plan` (the operator can grant more with `escalatr company set-retention`). Days chosen by the
 * owner replace an operator's window in minutes.
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
  await ctx.store.db
    .updateTable('companies')
    .set({
      retention_days: days,
      retention_minutes: null,
      history_class: historyClass({ plan: current.plan, retention_days: days, retention_minutes: null }),
    })
    .where('id', '=', companyId)
    .execute();
  return getRetention(ctx.store.db, companyId);
}

/**
 * The operator's setting, by company code: any window within the operator's bounds, whatever the plan, in days or
 * in minutes (minutes replace the days until the next setting in days, by the operator or an owner).
 */
export async function setRetentionByCode(
  ctx: DomainContext,
  code: string,
  window: { days: number } | { minutes: number },
): Promise<RetentionView & { code: string; minutes: number | null }> {
  const set =
    'days' in window
      ? { retention_days: checkDays(window.days, OPERATOR_MAX_RETENTION_DAYS), retention_minutes: null }
      : {
          retention_minutes: checkWhole(
            'minutes',
            window.minutes,
            MIN_RETENTION_MINUTES,
            OPERATOR_MAX_RETENTION_MINUTES,
          ),
        };
  const row = await ctx.store.db
    .updateTable('companies')
    .set(set)
    .where('code', '=', code)
    .returning(['id', 'plan', 'retention_days', 'retention_minutes'])
    .executeTakeFirst();
  if (!row) throw notFound(`company ${code}`);
  // Attempt rows written from now on go to the new window's class; those already written keep theirs.
  await ctx.store.db
    .updateTable('companies')
    .set({ history_class: historyClass(row) })
    .where('id', '=', row.id)
    .execute();
  return { code, minutes: 'minutes' in window ? window.minutes : null, ...(await getRetention(ctx.store.db, row.id)) };
}
