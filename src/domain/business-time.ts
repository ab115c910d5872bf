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

// A calendar open at least once a week reaches any window within this many days; past it the arithmetic gives up
// rather than loop (every holiday of years ahead could close a calendar for good).
const MAX_DAYS = 366 * 20;

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

/** Walks the open intervals from the local day of `from` on, clipped to start at `from`. */
function* openIntervalsFrom(cal: BusinessCalendar, from: number): Generator<[number, number]> {
  const holidays = new Set(cal.holidays);
  let day = DateTime.fromMillis(from, { zone: cal.time_zone }).startOf('day');
  for (let i = 0; i < MAX_DAYS; i++) {
    for (const [a, b] of openOn(cal, day, holidays)) {
      if (b <= from) continue;
      yield [Math.max(a, from), b];
    }
    day = day.plus({ days: 1 }).startOf('day');
  }
}

/**
 * The instant at which `ms` milliseconds of business time have passed since `from`. A window that ends exactly at
 * closing time is due at closing time, not at the next opening.
 */
export function addBusinessMs(cal: BusinessCalendar, from: number, ms: number): number {
  if (isAlwaysOpen(cal)) return from + ms;
  let left = ms;
  for (const [a, b] of openIntervalsFrom(cal, from)) {
    if (left <= b - a) return a + left;
    left -= b - a;
  }
  throw new Error(`the calendar has no ${ms} ms of business time within ${MAX_DAYS} days`);
}

/** Business milliseconds between two instants (0 when `to` is not after `from`): the inverse of addBusinessMs. */
export function businessMsBetween(cal: BusinessCalendar, from: number, to: number): number {
  if (to <= from) return 0;
  if (isAlwaysOpen(cal)) return to - from;
  let ms = 0;
  for (const [a, b] of openIntervalsFrom(cal, from)) {
    if (a >= to) break;
    ms += Math.min(b, to) - a;
  }
  return ms;
}
