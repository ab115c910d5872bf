import { DateTime, IANAZone } from 'luxon';

/**
 * Business-time arithmetic over a company's calendar: a time zone, opening intervals per weekday and holidays.
 * Local times are turned into instants by luxon with the zone's rules, so days of 23 or 25 hours (DST changes) count
 * what the clock on the wall counts: an interval that the spring change skips is shorter, one it repeats is longer.
 */

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `HH:MM` local wall-clock times; `end` may be `24:00` (the next midnight). */
export interface OpeningInterval {
  start: string;
  end: string;
}

export interface BusinessCalendar {
  time_zone: string;
  business_hours: Record<Weekday, OpeningInterval[]>;
  /** Local dates (`YYYY-MM-DD`) on which the company is closed all day. */
  holidays: string[];
}

/** Open all day, every day, no holidays: business time is elapsed time. */
export const ALWAYS_OPEN: BusinessCalendar = {
  time_zone: 'UTC',
  business_hours: Object.fromEntries(WEEKDAYS.map((d) => [d, [{ start: '00:00', end: '24:00' }]])) as Record<
    Weekday,
    OpeningInterval[]
  >,
  holidays: [],
};

/**
 * How far the arithmetic walks a calendar before it gives up: past this, a window is due at the walk's end. A
 * company's calendar and windows are checked against each other when either is set (sla.ts `longestUnfit`, within
 * half of this), so only a run of holidays ahead, or a calendar stored before that check, reaches it; the bound keeps
 * every walk short whatever a company stored.
 */
export const MAX_DAYS = 366 * 4;

export function isAlwaysOpen(cal: BusinessCalendar): boolean {
  return (
    cal.holidays.length === 0 &&
    WEEKDAYS.every((d) => {
      const day = cal.business_hours[d];
      return day.length === 1 && day[0].start === '00:00' && day[0].end === '24:00';
    })
  );
}

export function isValidTimeZone(name: string): boolean {
  return IANAZone.isValidZone(name);
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The opening intervals of one local day as instants (ms), in order; none on a holiday. */
function openOn(cal: BusinessCalendar, day: DateTime, holidays: ReadonlySet<string>): Array<[number, number]> {
  if (holidays.has(day.toISODate()!)) return [];
  const out: Array<[number, number]> = [];
  for (const { start, end } of cal.business_hours[WEEKDAYS[day.weekday - 1]]) {
    const at = (hhmm: string) => {
      const m = minutesOf(hhmm);
      return m >= 24 * 60
        ? day.plus({ days: 1 }).startOf('day').toMillis()
        : day.set({ hour: Math.floor(m / 60), minute: m % 60 }).toMillis();
    };
    const a = at(start);
    const b = at(end);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/** Business time of a week with no holiday and no change of the zone's offset: every weekday's intervals. */
export function plainWeekMs(cal: BusinessCalendar): number {
  let minutes = 0;
  for (const d of WEEKDAYS)
    for (const { start, end } of cal.business_hours[d]) minutes += minutesOf(end) - minutesOf(start);
  return minutes * 60_000;
}

/**
 * Whether the seven local days from `day` hold no holiday and the zone's offset is the same at both ends: then their
 * open intervals add up to exactly `plainWeekMs`. (A zone that changed its offset and back within one week would
 * pass unseen; no zone's rules do that today.)
 */
function isPlainWeek(day: DateTime, next: DateTime, sortedHolidays: readonly string[]): boolean {
  if (next.offset !== day.offset) return false;
  const from = day.toISODate()!;
  const to = next.toISODate()!;
  let lo = 0;
  let hi = sortedHolidays.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sortedHolidays[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo === sortedHolidays.length || sortedHolidays[lo] >= to;
}

/** Open business time from `from` on: one open interval, or a whole plain week whose intervals the walker may take at once. */
interface Span {
  a: number;
  b: number;
  /** Business ms within [a, b]. */
  ms: number;
  week: boolean;
}

/**
 * Walks the open intervals from the local day of `from` on, clipped to start at `from`, for at most MAX_DAYS days;
 * returns the instant it stopped at. A plain week wholly after `from` is offered whole first: the caller sends back
 * `true` to have it walked interval by interval instead (the window ends inside it), anything else to take it. A walk
 * over months is then a step per week rather than a time-zone lookup per day.
 */
function* spansFrom(cal: BusinessCalendar, from: number): Generator<Span, number, boolean | undefined> {
  const sortedHolidays = [...cal.holidays].sort();
  const holidays = new Set(sortedHolidays);
  const weekMs = plainWeekMs(cal);
  let day = DateTime.fromMillis(from, { zone: cal.time_zone }).startOf('day');
  let days = 0;
  while (days < MAX_DAYS) {
    if (days + 7 <= MAX_DAYS && day.toMillis() >= from) {
      const next = day.plus({ days: 7 });
      if (isPlainWeek(day, next, sortedHolidays)) {
        const expand = yield { a: day.toMillis(), b: next.toMillis(), ms: weekMs, week: true };
        if (!expand) {
          day = next;
          days += 7;
          continue;
        }
      }
    }
    for (const [a, b] of openOn(cal, day, holidays)) {
      if (b <= from) continue;
      const start = Math.max(a, from);
      yield { a: start, b, ms: b - start, week: false };
    }
    day = day.plus({ days: 1 }).startOf('day');
    days++;
  }
  return day.toMillis();
}

/**
 * The instant at which `ms` milliseconds of business time have passed since `from`, or null when the calendar does
 * not hold that much within `days` days. A window that ends exactly at closing time is due at closing time, not at
 * the next opening.
 */
export function dueWithin(cal: BusinessCalendar, from: number, ms: number, days = MAX_DAYS): number | null {
  if (isAlwaysOpen(cal)) return from + ms;
  const limit = DateTime.fromMillis(from, { zone: cal.time_zone }).startOf('day').plus({ days }).toMillis();
  const spans = spansFrom(cal, from);
  let left = ms;
  let step = spans.next();
  while (!step.done) {
    const span = step.value;
    if (span.a >= limit) return null;
    if (span.week) {
      const takeWhole = left > span.ms;
      if (takeWhole) left -= span.ms;
      step = spans.next(!takeWhole);
      continue;
    }
    if (left <= span.ms) return span.a + left <= limit ? span.a + left : null;
    left -= span.ms;
    step = spans.next();
  }
  return null;
}

/**
 * The instant at which `ms` milliseconds of business time have passed since `from`. When the calendar does not hold
 * them within MAX_DAYS (see there), the window is due where the walk stopped: it cannot end sooner.
 */
export function addBusinessMs(cal: BusinessCalendar, from: number, ms: number): number {
  return (
    dueWithin(cal, from, ms) ??
    DateTime.fromMillis(from, { zone: cal.time_zone }).startOf('day').plus({ days: MAX_DAYS }).toMillis()
  );
}

/** Business milliseconds between two instants (0 when `to` is not after `from`): the inverse of addBusinessMs. */
export function businessMsBetween(cal: BusinessCalendar, from: number, to: number): number {
  if (to <= from) return 0;
  if (isAlwaysOpen(cal)) return to - from;
  const spans = spansFrom(cal, from);
  let ms = 0;
  let step = spans.next();
  while (!step.done) {
    const span = step.value;
    if (span.a >= to) break;
    if (span.week) {
      const takeWhole = span.b <= to;
      if (takeWhole) ms += span.ms;
      step = spans.next(!takeWhole);
      continue;
    }
    ms += Math.min(span.b, to) - span.a;
    step = spans.next();
  }
  return ms;
}
