/** A company's budget is counted in windows of a minute. */
export const BUDGET_WINDOW_MS = 60_000;
// Companies whose window has ended are forgotten once this many are held.
const FORGET_AFTER = 10_000;

/**
 * What one company may use of this process in a minute (requests, milliseconds of serving, bytes of bodies): a fixed
 * window per company, opened by the first use after the last one ended.
 */
export class CompanyBudget {
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(readonly perMin: number) {}

  /** Whether `amount` more fits the company's window: null when it does, else the milliseconds until the window ends. */
  wouldExceed(companyId: string, amount: number, now: number): number | null {
    const window = this.windowOf(companyId, now);
    return window.used + amount > this.perMin ? window.start + BUDGET_WINDOW_MS - now : null;
  }

  spend(companyId: string, amount: number, now: number): void {
    this.windowOf(companyId, now).used += amount;
  }

  /** What the company has used in its present window. */
  used(companyId: string, now: number): number {
    return this.windowOf(companyId, now).used;
  }

  private windowOf(companyId: string, now: number): { start: number; used: number } {
    let window = this.windows.get(companyId);
    if (!window || now - window.start >= BUDGET_WINDOW_MS) {
      if (this.windows.size >= FORGET_AFTER) this.forgetEnded(now);
      window = { start: now, used: 0 };
      this.windows.set(companyId, window);
    }
    return window;
  }

  private forgetEnded(now: number): void {
    for (const [id, window] of this.windows) if (now - window.start >= BUDGET_WINDOW_MS) this.windows.delete(id);
  }
}
