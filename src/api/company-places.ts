/**
 * Places each company holds at once in this process (a request body being received, a large upload being read),
 * up to a limit per company.
 */
export class CompanyPlaces {
  private readonly held = new Map<string, number>();

  constructor(readonly perCompany: number) {}

  /** Takes one of the company's places: a function that gives it back (once, however often it is called), or null. */
  take(companyId: string): (() => void) | null {
    const now = this.held.get(companyId) ?? 0;
    if (now >= this.perCompany) return null;
    this.held.set(companyId, now + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(companyId) ?? 1) - 1;
      if (left > 0) this.held.set(companyId, left);
      else this.held.delete(companyId);
    };
  }

  /** Places the company holds now; without one, all companies together. */
  count(companyId?: string): number {
    if (companyId !== undefined) return this.held.get(companyId) ?? 0;
    let all = 0;
    for (const n of this.held.values()) all += n;
    return all;
  }
}
