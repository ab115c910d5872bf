import { DateTime } from 'luxon';
import { AppError } from '../errors.js';
import type { Db } from '../storage/db.js';
import {
  ALWAYS_OPEN,
  isAlwaysOpen,
  isValidTimeZone,
  WEEKDAYS,
  type BusinessCalendar,
  type OpeningInterval,
  type Weekday,
} from './business-time.js';

/**
 * A company's SLA calendar: the business hours its response windows count, whether a window pauses while the
 * company waits on the consumer, and at which fractions of a window the scheduler warns. Without one a company has
 * the 24×7 calendar, no pause and a warning at three quarters, so its windows run exactly as elapsed time.
 */
export interface SlaCalendar extends BusinessCalendar {
  /** A window started while a follow-up question or a settlement offer awaits the consumer waits for the answer. */
  pause_when_awaiting_consumer: boolean;
  /** Fractions of a window (0 < f < 1, ascending) at which `complaint.sla_warning` is sent. */
  warning_fractions: number[];
}

const DEFAULT_WARNING_FRACTIONS = [0.75];

const DEFAULT_SLA_CALENDAR: SlaCalendar = {
  ...ALWAYS_OPEN,
  pause_when_awaiting_consumer: false,
  warning_fractions: DEFAULT_WARNING_FRACTIONS,
};

/** Bounds on what one calendar may hold, so a stored calendar stays small and every computation over it short. */
export const MAX_INTERVALS_PER_DAY = 12;
export const MAX_HOLIDAYS = 1000;
export const MAX_WARNING_FRACTIONS = 5;

export interface SlaCalendarView extends SlaCalendar {
  /** True while the calendar is open all day every day with no holidays: windows count elapsed time. */
  always_open: boolean;
}

/** The calendar as stored on the company row (JSON text; null is the default). */
export const parseCalendar = (json: string | null): SlaCalendar =>
  json ? (JSON.parse(json) as SlaCalendar) : DEFAULT_SLA_CALENDAR;

export async function companyCalendar(db: Db, companyId: string): Promise<SlaCalendar> {
  const row = await db.selectFrom('companies').select('sla_calendar').where('id', '=', companyId).executeTakeFirst();
  return parseCalendar(row?.sla_calendar ?? null);
}

export async function getSlaCalendar(db: Db, companyId: string): Promise<SlaCalendarView> {
  const cal = await companyCalendar(db, companyId);
  return { ...cal, always_open: isAlwaysOpen(cal) };
}

export interface SlaCalendarInput {
  time_zone: string;
  business_hours: Partial<Record<Weekday, OpeningInterval[]>>;
  holidays: string[];
  pause_when_awaiting_consumer?: boolean;
  warning_fractions?: number[];
}

const TIME = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function checkDay(day: Weekday, intervals: OpeningInterval[]): OpeningInterval[] {
  const bad = (message: string, field: string) =>
    new AppError('invalid_business_hours', `business_hours.${day}: ${message}`, { field });
  if (intervals.length > MAX_INTERVALS_PER_DAY)
    throw bad(`at most ${MAX_INTERVALS_PER_DAY} intervals a day`, `business_hours.${day}`);
  intervals.forEach(({ start, end }, i) => {
    const field = `business_hours.${day}[${i}]`;
    if (!TIME.test(start) || start === '24:00') throw bad(`start "${start}" is not a time from 00:00 to 23:59`, field);
    if (!TIME.test(end)) throw bad(`end "${end}" is not a time from 00:01 to 24:00`, field);
    if (end <= start) throw bad(`interval ${start}–${end} ends before it starts`, field);
  });
  const sorted = [...intervals].sort((a, b) => a.start.localeCompare(b.start));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].start < sorted[i - 1].end)
      throw bad(
        `intervals ${sorted[i - 1].start}–${sorted[i - 1].end} and ${sorted[i].start}–${sorted[i].end} overlap`,
        `business_hours.${day}`,
      );
  }
  return sorted.map(({ start, end }) => ({ start, end }));
}

/** Checks a calendar as a client sent it, and gives it in its stored form (days in order, intervals sorted). */
export function checkSlaCalendar(input: SlaCalendarInput): SlaCalendar {
  if (!isValidTimeZone(input.time_zone))
    throw new AppError('invalid_time_zone', `time_zone "${input.time_zone}" is not an IANA time zone`, {
      field: 'time_zone',
    });
  const hours = Object.fromEntries(WEEKDAYS.map((d) => [d, checkDay(d, input.business_hours[d] ?? [])])) as Record<
    Weekday,
    OpeningInterval[]
  >;
  if (WEEKDAYS.every((d) => hours[d].length === 0))
    throw new AppError('invalid_business_hours', 'business_hours: the company must be open at least once a week', {
      field: 'business_hours',
    });
  if (input.holidays.length > MAX_HOLIDAYS)
    throw new AppError('invalid_holiday', `holidays: at most ${MAX_HOLIDAYS}`, { field: 'holidays' });
  input.holidays.forEach((date, i) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !DateTime.fromISO(date, { zone: 'UTC' }).isValid)
      throw new AppError('invalid_holiday', `holidays[${i}]: "${date}" is not a date (YYYY-MM-DD)`, {
        field: `holidays[${i}]`,
      });
  });
  const fractions = input.warning_fractions ?? DEFAULT_WARNING_FRACTIONS;
  if (fractions.length > MAX_WARNING_FRACTIONS || fractions.some((f) => !(f > 0 && f < 1)))
    throw new AppError(
      'validation_failed',
      `warning_fractions: up to ${MAX_WARNING_FRACTIONS} numbers between 0 and 1 (exclusive)`,
      { field: 'warning_fractions' },
    );
  if (new Set(fractions).size !== fractions.length)
    throw new AppError('validation_failed', 'warning_fractions: each fraction once', { field: 'warning_fractions' });
  return {
    time_zone: input.time_zone,
    business_hours: hours,
    holidays: [...new Set(input.holidays)].sort(),
    pause_when_awaiting_consumer:
      input.pause_when_awaiting_consumer ?? DEFAULT_SLA_CALENDAR.pause_when_awaiting_consumer,
    warning_fractions: [...fractions].sort((a, b) => a - b),
  };
}
