import { describe, expect, it } from 'vitest';
import {
  addBusinessMs,
  ALWAYS_OPEN,
  businessMsBetween,
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
});
