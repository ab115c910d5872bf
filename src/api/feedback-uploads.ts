import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { overRate } from '../errors.js';
import { CompanyBudget } from './company-budget.js';
import { CompanyPlaces } from './company-places.js';

/** Large feedback bodies of one company received or read at once; one more is refused before it is read. */
export const COMPANY_LARGE_BODIES = 2;

/**
 * What one company's feedback uploads may hold of this process, checked when a request's headers have arrived and
 * before its body is read:
 * - Large bodies (over `largeBytes`, or of unannounced length) at once: each may buffer up to the route's 24 MB
 *   limit while it arrives, so without a bound one company's slow or many uploads could hold any amount of memory.
 *   A body holds its place from its headers to its answer (or its connection's end).
 * - Body bytes a minute (`bytesPerMin`, 0: none): a batch of records the company already has stores nothing and
 *   counts nothing against its records a minute, yet is received and parsed in full each time it is sent.
 */
export class FeedbackUploads {
  /** Large bodies of each company being received or read now. */
  private readonly large = new CompanyPlaces(COMPANY_LARGE_BODIES);
  private readonly bytes: CompanyBudget | null;

  constructor(private readonly opts: { largeBytes: number; bytesPerMin: number; clock: Clock }) {
    this.bytes = opts.bytesPerMin > 0 ? new CompanyBudget(opts.bytesPerMin) : null;
  }

  /** Takes the request's place and bytes, or refuses it (429 rate_limited) without reading its body. */
  admit(companyId: string, request: FastifyRequest, reply: FastifyReply): void {
    const declared = Number(request.headers['content-length']);
    const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : null;
    const large = length === null || length > this.opts.largeBytes;
    if (large && this.large.count(companyId) >= COMPANY_LARGE_BODIES)
      throw overRate(
        'rate_limited',
        `${COMPANY_LARGE_BODIES} large feedback bodies of this company are being received or read; send the next when one is answered`,
        1000,
        { limit: COMPANY_LARGE_BODIES, per: 'feedback_bodies' },
      );
    if (length !== null) this.takeBytes(companyId, length);
    // Checked above and nothing awaited since, so the place is there to take.
    const release = large ? this.large.take(companyId) : null;
    if (release) reply.raw.once('close', release);
  }

  /** Charges a body whose length was not announced, once it has arrived and before it is parsed. */
  takeUnannounced(companyId: string, request: FastifyRequest, bytes: number): void {
    if (request.headers['content-length'] === undefined) this.takeBytes(companyId, bytes);
  }

  private takeBytes(companyId: string, bytes: number): void {
    const budget = this.bytes;
    if (!budget) return;
    const now = this.opts.clock.now();
    const wait = budget.wouldExceed(companyId, bytes, now);
    if (wait !== null) {
      const used = budget.used(companyId, now);
      throw overRate(
        'rate_limited',
        (s) =>
          `A company may send ${budget.perMin} bytes of feedback bodies a minute; ${used} were sent in this one; retry in ${s} s`,
        wait,
        { limit: budget.perMin, used, per: 'feedback_bytes' },
      );
    }
    budget.spend(companyId, bytes, now);
  }
}
