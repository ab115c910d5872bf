import { afterEach, describe, expect, it, vi } from 'vitest';
import { firstIdAt, idMadeAt, newId } from '../../src/ids.js';

/** Ids start with their creation time, so a range of ids is a range of creation times (the bench counts by it). */
describe('firstIdAt', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is at or below every id made from that millisecond on, and above every id made before it', () => {
    const at = Date.UTC(2026, 11, 5, 6, 30);
    vi.useFakeTimers({ now: at - 1, toFake: ['Date'] });
    const before = Array.from({ length: 50 }, () => newId('dlv'));
    vi.setSystemTime(at);
    const same = Array.from({ length: 50 }, () => newId('dlv'));
    vi.setSystemTime(at + 86_400_000);
    const later = newId('dlv');
    for (const id of before) expect(id < firstIdAt('dlv', at)).toBe(true);
    for (const id of [...same, later]) expect(id >= firstIdAt('dlv', at)).toBe(true);
    expect(later < firstIdAt('dlv', at + 86_400_001)).toBe(true);
  });
});

describe('idMadeAt', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reads the millisecond an id was made, and nothing from an id without newId's time", () => {
    for (const at of [Date.UTC(2026, 11, 7, 1, 2, 3, 456), Date.UTC(2099, 0, 1), 86_400_000]) {
      vi.useFakeTimers({ now: at, toFake: ['Date'] });
      expect(idMadeAt(newId('dlv'))).toBe(at);
      expect(idMadeAt(newId('evt', 24))).toBe(at);
    }
    expect(idMadeAt(newId('wk', 8))).toBeNull();
    for (const id of [
      'dlv',
      'dlv_',
      'dlv_0mxc',
      'nounderscore0mxckpmsfqvjtkgq',
      'dlv_0MXCKPMSFQVJTKGQOF9S',
      'dlv_0mx-kpmsfqvjtkgqof9s',
    ])
      expect(idMadeAt(id)).toBeNull();
  });
});
