/** Time comes from here, so the domain, scheduler and worker can be driven by a fake clock in tests. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to; for tests. */
export class ManualClock implements Clock {
  constructor(private t: number = Date.UTC(2026, 3, 17, 9, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}

/** An epoch-milliseconds time as the API writes it, ISO 8601 in UTC: every time the API and CLI show goes through here. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** The same for a time that may be absent. */
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
