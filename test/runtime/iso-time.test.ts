import { describe, expect, it } from 'vitest';
import { iso, isoOrNull } from '../../src/clock.js';

/**
 * Every time the API and CLI write goes through `iso` (src/clock.ts), which keeps `toISOString`'s date part per day
 * and writes the time of day itself: it must give `toISOString`'s string for every time, and its errors.
 */
describe('iso', () => {
  it("writes toISOString's string: each edge of a day, before 1970, years outside 0000-9999, the limits of a Date", () => {
    const day = 86_400_000;
    const times = [
      0,
      -0,
      1,
      -1,
      day - 1,
      day,
      -day,
      -day - 1,
      Date.UTC(2026, 11, 5, 23, 59, 59, 999),
      Date.UTC(2024, 1, 29, 12, 0, 0, 5),
      Date.UTC(1969, 11, 31, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      Date.UTC(0, 0, 1) - 1,
      -62_198_755_200_000,
      8.64e15,
      -8.64e15,
    ];
    for (const ms of times) expect(iso(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("writes toISOString's string for 200,000 times spread over six thousand years, each asked twice", () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let i = 0; i < 200_000; i++) {
      const ms = Math.floor((next() - 0.4) * 2e14);
      const expected = new Date(ms).toISOString();
      expect(iso(ms)).toBe(expected);
      expect(iso(ms)).toBe(expected);
    }
  });

  it('leaves fractions to the Date (which drops them) and throws its RangeError for what a Date cannot hold', () => {
    expect(iso(1.9)).toBe(new Date(1.9).toISOString());
    expect(iso(-1.5)).toBe(new Date(-1.5).toISOString());
    for (const bad of [NaN, Infinity, -Infinity, 8.64e15 + 1, -8.64e15 - 1]) expect(() => iso(bad)).toThrow(RangeError);
    expect(isoOrNull(null)).toBeNull();
    expect(isoOrNull(0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
