import { overRate } from '../errors.js';

/** The window every per-company rate is counted over. */
export const RATE_WINDOW_MS = 60_000;

/**
 * Operations per company in a rolling minute, counted in this process (resend and recover requests). Each company
 * keeps the times of its operations inside the window, at most `perMinute` of them.
 */
export class CompanyRateWindow {
  private readonly times = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly code: 'resend_rate_limited',
    private readonly what: string,
  ) {}

  /** Counts one operation at `now`, or throws the 429 (with Retry-After) when the company's minute is used up. */
  take(companyId: string, now: number): void {
    if (this.perMinute === 0) return;
    const recent = (this.times.get(companyId) ?? []).filter((t) => t > now - RATE_WINDOW_MS);
    if (recent.length >= this.perMinute) {
      this.times.set(companyId, recent);
      throw overRate(
        this.code,
        `A company may make ${this.perMinute} ${this.what} per minute; try again later`,
        recent[recent.length - this.perMinute] + RATE_WINDOW_MS - now,
        { limit: this.perMinute },
      );
    }
    recent.push(now);
    this.times.set(companyId, recent);
    // Companies idle for a minute are forgotten, so the map follows the active companies.
    if (this.times.size > 1000)
      for (const [id, ts] of this.times) if (ts[ts.length - 1] <= now - RATE_WINDOW_MS) this.times.delete(id);
  }
}
