import { AppError } from '../errors.js';
import type { Db } from '../storage/db.js';
import type { ComplaintsTable } from '../storage/schema.js';
import { addBusinessMs, businessMsBetween, dueWithin, plainWeekMs } from './business-time.js';
import type { DomainContext } from './context.js';
import { ESCALATION_LEVELS, isActive, levelName } from './lifecycle.js';
import {
  checkSlaCalendar,
  companyCalendar,
  getSlaCalendar,
  parseCalendar,
  type SlaCalendar,
  type SlaCalendarInput,
  type SlaCalendarView,
} from './sla-calendar.js';

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
  calendar: SlaCalendar;
}

/** The company's windows, action wait and calendar, read in one query (a window start needs all of them). */
export async function companyTimers(db: Db, companyId: string): Promise<CompanyTimers> {
  const row = await db
    .selectFrom('companies')
    .select(['sla_windows', 'action_wait_s', 'sla_calendar'])
    .where('id', '=', companyId)
    .executeTakeFirst();
  const custom = row?.sla_windows ? (JSON.parse(row.sla_windows) as Record<string, number>) : {};
  return {
    windows: { ...DEFAULT_SLA_WINDOWS_S, ...custom },
    actionWaitS: row?.action_wait_s ?? DEFAULT_ACTION_WAIT_S,
    calendar: parseCalendar(row?.sla_calendar ?? null),
  };
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
  const calendar = await companyCalendar(ctx.store.db, companyId);
  const unfit = longestUnfit(calendar, { ...DEFAULT_SLA_WINDOWS_S, ...windows }, ctx.clock.now());
  if (unfit)
    throw new AppError(
      'validation_failed',
      `windows.${unfit.level}: ${unfit.hours} h of business time do not fit in the company's calendar within ` +
        `${FIT_YEARS} years (it is open ${unfit.weekHours} h a week); shorten the window or widen the calendar`,
      { field: `windows.${unfit.level}` },
    );
  await ctx.store.db
    .updateTable('companies')
    .set({ sla_windows: Object.keys(windows).length ? JSON.stringify(windows) : null, action_wait_s: actionWait })
    .where('id', '=', companyId)
    .execute();
  return getSlaSettings(ctx.store.db, companyId);
}

/**
 * Replaces the company's calendar. It applies to windows that start or resume after the change; a running window
 * keeps the due time it was given. The company's windows must fit in it (see `longestUnfit`).
 */
export async function setSlaCalendar(
  ctx: DomainContext,
  companyId: string,
  input: SlaCalendarInput,
): Promise<SlaCalendarView> {
  const cal = checkSlaCalendar(input);
  const { windows } = await companyTimers(ctx.store.db, companyId);
  const unfit = longestUnfit(cal, windows, ctx.clock.now());
  if (unfit)
    throw new AppError(
      'invalid_business_hours',
      `business_hours: the ${unfit.level} window (${unfit.hours} h of business time) does not fit in this calendar ` +
        `within ${FIT_YEARS} years (it is open ${unfit.weekHours} h a week); widen the hours or shorten the window`,
      { field: 'business_hours' },
    );
  await ctx.store.db
    .updateTable('companies')
    .set({ sla_calendar: JSON.stringify(cal) })
    .where('id', '=', companyId)
    .execute();
  return getSlaCalendar(ctx.store.db, companyId);
}

/**
 * A level's window must end within this many years of when the calendar or the windows are set. A
 * calendar that cannot hold a level's window (open a minute a week, with three days to answer) would put every due
 * time decades out; the arithmetic gives up at twice this (business-time.ts MAX_DAYS), so a run of holidays ahead
 * still leaves room.
 */
const FIT_YEARS = 2;

/** The longest of the windows that the calendar does not hold within FIT_YEARS from `now`, or null when all fit. */
function longestUnfit(cal: SlaCalendar, windows: Record<string, number>, now: number) {
  const [level, seconds] = Object.entries(windows).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  if (dueWithin(cal, now, seconds * 1000, FIT_YEARS * 366) !== null) return null;
  const round = (h: number) => Math.round(h * 100) / 100;
  return { level, hours: round(seconds / 3600), weekHours: round(plainWeekMs(cal) / 3_600_000) };
}

/** The columns of a level window: every start, pause, resume and stop writes them together. */
export type SlaWindow = Pick<
  ComplaintsTable,
  'sla_due_at' | 'sla_window_s' | 'sla_remaining_s' | 'sla_alert_at' | 'sla_alerted'
>;

/** No window runs: a staff answer stopped it, or the complaint is closed. */
export const SLA_STOPPED: SlaWindow = {
  sla_due_at: null,
  sla_window_s: null,
  sla_remaining_s: null,
  sla_alert_at: null,
  sla_alerted: null,
};

/** Whether the company waits on the consumer: a follow-up question unanswered, or a settlement offer still open. */
async function awaitingConsumer(db: Db, complaintId: string): Promise<boolean> {
  const [question, offer] = await Promise.all([
    db
      .selectFrom('followups')
      .select('id')
      .where('complaint_id', '=', complaintId)
      .where('answer', 'is', null)
      .executeTakeFirst(),
    db
      .selectFrom('settlement_offers')
      .select('id')
      .where('complaint_id', '=', complaintId)
      .where('status', '=', 'open')
      .executeTakeFirst(),
  ]);
  return question !== undefined || offer !== undefined;
}

/** How much of a window (in ms of business time) is left when fraction `f` of it has passed. */
const leftAt = (f: number, windowS: number) => Math.round((1 - f) * windowS * 1000);

/** What the scheduler owes a running window at `now`, and when it must look at it next. */
export interface WindowAlerts {
  /** Warning fractions passed and not yet announced, ascending. */
  warnings: number[];
  breached: boolean;
  /** The next warning or the breach; null once the breach is announced. */
  next: number | null;
}

/**
 * The warnings and breach of a running window at `now`. A fraction is passed when no more than its share of the
 * window is left in business time; the breach, at the due time. Windows without a budget (started before calendars
 * existed) have no warnings. A scheduler that was away announces what it missed, warnings before the breach.
 */
export function windowAlerts(
  cal: SlaCalendar,
  c: Pick<ComplaintsTable, 'sla_due_at' | 'sla_window_s' | 'sla_alerted'>,
  now: number,
): WindowAlerts {
  const due = c.sla_due_at!;
  const alerted = c.sla_alerted ?? 0;
  const windowS = c.sla_window_s;
  const pending = windowS === null ? [] : cal.warning_fractions.filter((f) => f > alerted);
  if (now >= due) return { warnings: pending, breached: alerted < 1, next: null };
  const left = businessMsBetween(cal, now, due);
  const warnings = pending.filter((f) => left <= leftAt(f, windowS!));
  const upcoming = pending.find((f) => left > leftAt(f, windowS!));
  return {
    warnings,
    breached: false,
    next: upcoming === undefined ? due : addBusinessMs(cal, now, left - leftAt(upcoming, windowS!)),
  };
}

/** A window running from `now` with `leftMs` of business time to go. */
function running(cal: SlaCalendar, now: number, windowS: number, leftMs: number, alerted: number): SlaWindow {
  const due = addBusinessMs(cal, now, leftMs);
  const window = { sla_due_at: due, sla_window_s: windowS, sla_alerted: alerted };
  return { ...window, sla_remaining_s: null, sla_alert_at: windowAlerts(cal, window, now).next };
}

/**
 * The window of `level` starting at `now`: due once the level's window of business time has passed, or, when the
 * company pauses for the consumer and waits on them (`complaintId` has an open question or offer), paused with the
 * whole window left.
 */
export async function startWindow(
  db: Db,
  companyId: string,
  complaintId: string,
  level: number,
  now: number,
): Promise<SlaWindow> {
  const timers = await companyTimers(db, companyId);
  if (timers.calendar.pause_when_awaiting_consumer && (await awaitingConsumer(db, complaintId))) {
    const windowS = windowOf(timers, level);
    return { sla_due_at: null, sla_window_s: windowS, sla_remaining_s: windowS, sla_alert_at: null, sla_alerted: 0 };
  }
  return firstWindow(timers, level, now);
}

const windowOf = (timers: CompanyTimers, level: number) => timers.windows[levelName(level)] ?? DEFAULT_SLA_WINDOWS_S.L1;

/**
 * The window of `level` running from `now`, from timers already read: a new complaint's, whose company cannot be
 * waiting on it yet (filing reads the timers before its transaction, so the company row is locked no longer).
 */
export function firstWindow(timers: CompanyTimers, level: number, now: number): SlaWindow {
  const windowS = windowOf(timers, level);
  return running(timers.calendar, now, windowS, windowS * 1000, 0);
}

/**
 * A paused window starts again once the company no longer waits on the consumer, with the time it had left; null
 * when nothing changes (no paused window, or still waiting).
 */
export async function resumeWindow(db: Db, c: ComplaintsTable, now: number): Promise<SlaWindow | null> {
  if (c.sla_remaining_s === null || !isActive(c) || c.stage === 'Closure') return null;
  if (await awaitingConsumer(db, c.escalatr_id)) return null;
  const cal = await companyCalendar(db, c.company_id);
  return running(cal, now, c.sla_window_s ?? c.sla_remaining_s, c.sla_remaining_s * 1000, c.sla_alerted ?? 0);
}

export function isOverdue(slaDue: number | null, now: number): boolean {
  return slaDue !== null && now >= slaDue;
}
