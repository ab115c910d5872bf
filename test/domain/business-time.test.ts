import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import {
  addBusinessMs,
  ALWAYS_OPEN,
  businessMsBetween,
  dueWithin,
  MAX_DAYS,
  WEEKDAYS,
  type BusinessCalendar,
  type OpeningInterval,
} from '../../src/domain/business-time.js';

const HOUR = 3600_000;
const at = (isoUtc: string) => Date.parse(isoUtc);
const iso = (ms: number) => new Date(ms).toISOString();

function calendar(
  zone: string,
  hours: Partial<Record<(typeof WEEKDAYS)[number], OpeningInterval[]>>,
  holidays: string[] = [],
): BusinessCalendar {
  return {
    time_zone: zone,
    business_hours: Object.fromEntries(WEEKDAYS.map((d) => [d, hours[d] ?? []])) as BusinessCalendar['business_hours'],
    holidays,
  };
}
const nineToFive = [{ start: '09:00', end: '17:00' }];
const weekdays = (intervals: OpeningInterval[]) =>
  Object.fromEntries(['monday', 'tuesday', 'wednesday', 'thursday', 'friday'].map((d) => [d, intervals]));
const allDay = Object.fromEntries(WEEKDAYS.map((d) => [d, [{ start: '00:00', end: '24:00' }]]));

/** Business-time arithmetic: weekends, holidays, split days, closing time, and both DST changes in two zones. */
describe('business time', () => {
  const berlin = calendar('Europe/Berlin', weekdays(nineToFive));
  const newYork = calendar('America/New_York', weekdays(nineToFive));

  it('the 24×7 calendar is elapsed time', () => {
    const from = at('2026-03-28T23:30:00Z');
    expect(addBusinessMs(ALWAYS_OPEN, from, 72 * HOUR)).toBe(from + 72 * HOUR);
    expect(businessMsBetween(ALWAYS_OPEN, from, from + 5 * HOUR)).toBe(5 * HOUR);
  });

  it('skips the weekend: Friday 16:00 plus 2 business hours is Monday 10:00', () => {
    // 2026-04-17 is a Friday; Berlin is on CEST (UTC+2).
    expect(iso(addBusinessMs(berlin, at('2026-04-17T14:00:00Z'), 2 * HOUR))).toBe('2026-04-20T08:00:00.000Z');
    expect(businessMsBetween(berlin, at('2026-04-17T14:00:00Z'), at('2026-04-20T08:00:00Z'))).toBe(2 * HOUR);
  });

  it('a window starting outside hours starts at the next opening; one ending at closing time is due then', () => {
    // Saturday night → Monday 09:00 + 8 h = Monday 17:00, not Tuesday 09:00.
    expect(iso(addBusinessMs(berlin, at('2026-04-18T22:00:00Z'), 8 * HOUR))).toBe('2026-04-20T15:00:00.000Z');
  });

  it('skips a holiday', () => {
    const withHoliday = calendar('Europe/Berlin', weekdays(nineToFive), ['2026-04-20']);
    expect(iso(addBusinessMs(withHoliday, at('2026-04-17T14:00:00Z'), 2 * HOUR))).toBe('2026-04-21T08:00:00.000Z');
    expect(businessMsBetween(withHoliday, at('2026-04-17T14:00:00Z'), at('2026-04-21T08:00:00Z'))).toBe(2 * HOUR);
  });

  it('counts a split day (lunch closed) interval by interval', () => {
    const split = calendar(
      'Europe/Berlin',
      weekdays([
        { start: '09:00', end: '12:00' },
        { start: '13:00', end: '17:00' },
      ]),
    );
    // Monday 11:00 CEST + 2 h = 11–12 and 13–14.
    expect(iso(addBusinessMs(split, at('2026-04-20T09:00:00Z'), 2 * HOUR))).toBe('2026-04-20T12:00:00.000Z');
  });

  it('Berlin, spring forward (29 March 2026): the Monday opening is at UTC+2', () => {
    // Friday 27 March 16:00 CET (UTC+1) = 15:00Z; 1 h on Friday, 1 h on Monday 30 March from 09:00 CEST = 07:00Z.
    expect(iso(addBusinessMs(berlin, at('2026-03-27T15:00:00Z'), 2 * HOUR))).toBe('2026-03-30T08:00:00.000Z');
    expect(businessMsBetween(berlin, at('2026-03-27T15:00:00Z'), at('2026-03-30T08:00:00Z'))).toBe(2 * HOUR);
  });

  it('Berlin, fall back (25 October 2026): the Monday opening is at UTC+1', () => {
    // Friday 23 October 16:00 CEST = 14:00Z; Monday 26 October 09:00 CET = 08:00Z.
    expect(iso(addBusinessMs(berlin, at('2026-10-23T14:00:00Z'), 2 * HOUR))).toBe('2026-10-26T09:00:00.000Z');
  });

  it('New York, spring forward (8 March 2026) and fall back (1 November 2026)', () => {
    // Friday 6 March 16:00 EST = 21:00Z; Monday 9 March 09:00 EDT = 13:00Z.
    expect(iso(addBusinessMs(newYork, at('2026-03-06T21:00:00Z'), 2 * HOUR))).toBe('2026-03-09T14:00:00.000Z');
    // Friday 30 October 16:00 EDT = 20:00Z; Monday 2 November 09:00 EST = 14:00Z.
    expect(iso(addBusinessMs(newYork, at('2026-10-30T20:00:00Z'), 2 * HOUR))).toBe('2026-11-02T15:00:00.000Z');
  });

  it('a day the clocks change has 23 or 25 hours of business time when open all day', () => {
    // Open only on Sundays, all day. Berlin 25 October 2026 has 25 hours: 25 h from its midnight end at its end.
    const sundaysBerlin = calendar('Europe/Berlin', { sunday: [{ start: '00:00', end: '24:00' }] });
    expect(iso(addBusinessMs(sundaysBerlin, at('2026-10-24T22:00:00Z'), 25 * HOUR))).toBe('2026-10-25T23:00:00.000Z');
    // New York 8 March 2026 has 23 hours: the 24th hour is the first of the next Sunday (15 March, EDT).
    const sundaysNy = calendar('America/New_York', { sunday: [{ start: '00:00', end: '24:00' }] });
    expect(iso(addBusinessMs(sundaysNy, at('2026-03-08T05:00:00Z'), 24 * HOUR))).toBe('2026-03-15T05:00:00.000Z');
    expect(businessMsBetween(sundaysNy, at('2026-03-08T05:00:00Z'), at('2026-03-15T05:00:00Z'))).toBe(24 * HOUR);
  });

  it('open all day with a holiday far away is still elapsed time across both changes', () => {
    const almostAlways = calendar('Europe/Berlin', allDay, ['2030-01-01']);
    for (const from of [at('2026-03-28T11:00:00Z'), at('2026-10-24T11:00:00Z')]) {
      expect(addBusinessMs(almostAlways, from, 48 * HOUR)).toBe(from + 48 * HOUR);
      expect(businessMsBetween(almostAlways, from, from + 48 * HOUR)).toBe(48 * HOUR);
    }
  });

  it('adding and measuring are inverse, wherever the start falls', () => {
    const zones = [berlin, newYork, calendar('Asia/Kolkata', weekdays(nineToFive), ['2026-01-26'])];
    for (const cal of zones) {
      for (let i = 0; i < 60; i++) {
        const from = at('2026-01-01T00:00:00Z') + i * 7_919_000 * 97;
        const ms = ((i * 37) % 50) * 1_800_000 + 1;
        const due = addBusinessMs(cal, from, ms);
        expect(businessMsBetween(cal, from, due)).toBe(ms);
      }
    }
  });

  it('walks far windows a week at a time and gives the same instants as walking every day', () => {
    // Random calendars in zones with and without DST (Lord Howe shifts by 30 minutes, Santiago's changes fall on
    // midnight), holidays, and starts anywhere, against the day-by-day walk the arithmetic must agree with.
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'Australia/Lord_Howe',
      'Asia/Kolkata',
      'America/Santiago',
    ];
    const random = seeded(20261206);
    const hhmm = (m: number) =>
      m === 1440 ? '24:00' : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    for (let i = 0; i < 120; i++) {
      const hours: Partial<Record<(typeof WEEKDAYS)[number], OpeningInterval[]>> = {};
      for (const d of WEEKDAYS) {
        const cuts = Array.from({ length: 2 * Math.floor(random() * 3) }, () => Math.floor(random() * 97) * 15).sort(
          (a, b) => a - b,
        );
        const intervals: OpeningInterval[] = [];
        for (let k = 0; k + 1 < cuts.length; k += 2)
          if (cuts[k + 1] > cuts[k] && (k === 0 || cuts[k] >= cuts[k - 1]))
            intervals.push({ start: hhmm(cuts[k]), end: hhmm(cuts[k + 1]) });
        hours[d] = intervals.filter((x, k) => k === 0 || x.start >= intervals[k - 1].end);
      }
      if (WEEKDAYS.every((d) => hours[d]!.length === 0)) hours.wednesday = [{ start: '10:00', end: '11:30' }];
      const from = at('2026-01-01T00:00:00Z') + Math.floor(random() * 400 * 86_400_000);
      const holidays = Array.from({ length: Math.floor(random() * 12) }, () =>
        DateTime.fromMillis(from, { zone: 'UTC' })
          .plus({ days: Math.floor(random() * 200) })
          .toISODate()!,
      );
      const cal = calendar(zones[i % zones.length], hours, holidays);
      const weekMs = WEEKDAYS.reduce(
        (sum, d) => sum + hours[d]!.reduce((s, x) => s + (minutes(x.end) - minutes(x.start)) * 60_000, 0),
        0,
      );
      const ms = Math.floor(random() * 20 * weekMs) + 1;
      const due = addBusinessMs(cal, from, ms);
      expect(iso(due), `${JSON.stringify(cal)} from ${iso(from)} + ${ms}`).toBe(iso(referenceAdd(cal, from, ms)));
      const to = from + Math.floor(random() * 200 * 86_400_000);
      expect(businessMsBetween(cal, from, to)).toBe(referenceBetween(cal, from, to));
      expect(businessMsBetween(cal, from, due)).toBe(ms);
    }
  });

  it('a window the calendar cannot hold is due where the walk stops, never an error', () => {
    // Open one minute a week: three days of business time would take 83 years.
    const minuteAWeek = calendar('Europe/Berlin', { monday: [{ start: '09:00', end: '09:01' }] });
    const from = at('2026-04-17T14:00:00Z');
    expect(dueWithin(minuteAWeek, from, 72 * HOUR)).toBeNull();
    const due = addBusinessMs(minuteAWeek, from, 72 * HOUR);
    expect(due).toBe(
      DateTime.fromMillis(from, { zone: 'Europe/Berlin' }).startOf('day').plus({ days: MAX_DAYS }).toMillis(),
    );
    // What it does hold within a span is still counted exactly: 52 or 53 Mondays a year.
    const year = businessMsBetween(minuteAWeek, from, from + 365 * 24 * HOUR);
    expect(year === 52 * 60_000 || year === 53 * 60_000).toBe(true);
    // The bound asked for is kept: 10 minutes fit in 10 weeks, not in 8.
    expect(dueWithin(minuteAWeek, from, 10 * 60_000, 7 * 8)).toBeNull();
    expect(dueWithin(minuteAWeek, from, 10 * 60_000, 7 * 10)).toBe(at('2026-06-22T07:01:00Z'));
  });
});

const minutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));

/** A small deterministic generator (mulberry32), so a failing case can be run again. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The plain walk, one local day after another: each day's intervals made instants by luxon in the calendar's zone. */
function* referenceIntervals(cal: BusinessCalendar, from: number): Generator<[number, number]> {
  let day = DateTime.fromMillis(from, { zone: cal.time_zone }).startOf('day');
  for (let i = 0; i < MAX_DAYS; i++) {
    if (!cal.holidays.includes(day.toISODate()!))
      for (const { start, end } of cal.business_hours[WEEKDAYS[day.weekday - 1]]) {
        const instant = (t: string) =>
          minutes(t) >= 1440
            ? day.plus({ days: 1 }).startOf('day').toMillis()
            : day.set({ hour: Math.floor(minutes(t) / 60), minute: minutes(t) % 60 }).toMillis();
        const a = instant(start);
        const b = instant(end);
        if (b > a && b > from) yield [Math.max(a, from), b];
      }
    day = day.plus({ days: 1 }).startOf('day');
  }
}

function referenceAdd(cal: BusinessCalendar, from: number, ms: number): number {
  let left = ms;
  for (const [a, b] of referenceIntervals(cal, from)) {
    if (left <= b - a) return a + left;
    left -= b - a;
  }
  throw new Error('not within the horizon');
}

function referenceBetween(cal: BusinessCalendar, from: number, to: number): number {
  if (to <= from) return 0;
  let ms = 0;
  for (const [a, b] of referenceIntervals(cal, from)) {
    if (a >= to) break;
    ms += Math.min(b, to) - a;
  }
  return ms;
}
