import { afterEach, describe, expect, it, vi } from 'vitest';
import { firstIdAt, newId } from '../../src/ids.js';

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
