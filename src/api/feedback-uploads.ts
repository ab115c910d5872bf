import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

const WINDOW_MS = 60_000;
/** Large feedback bodies of one company received or read at once; one more is refused before it is read. */
export const COMPANY_LARGE_BODIES = 2;

interface CompanyUploads {
  /** Large bodies being received or read now. */
  large: number;
  windowStart: number;
  /** Body bytes taken in the window. */
  bytes: number;
}

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
  private readonly companies = new Map<string, CompanyUploads>();

  constructor(private readonly opts: { largeBytes: number; bytesPerMin: number; clock: Clock }) {}

  /** Takes the request's place and bytes, or refuses it (429 rate_limited) without reading its body. */
  admit(companyId: string, request: FastifyRequest, reply: FastifyReply): void {
    const declared = Number(request.headers['content-length']);
    const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : null;
    const uploads = this.uploadsOf(companyId);
    const large = length === null || length > this.opts.largeBytes;
    if (large && uploads.large >= COMPANY_LARGE_BODIES)
      throw new AppError(
        'rate_limited',
        `${COMPANY_LARGE_BODIES} large feedback bodies of this company are being received or read; send the next when one is answered`,
        { limit: COMPANY_LARGE_BODIES, per: 'feedback_bodies', retry_after: 1 },
      );
    if (length !== null) this.takeBytes(companyId, length);
    if (!large) return;
    uploads.large++;
    reply.raw.once('close', () => uploads.large--);
  }

  /** Charges a body whose length was not announced, once it has arrived and before it is parsed. */
  takeUnannounced(companyId: string, request: FastifyRequest, bytes: number): void {
    if (request.headers['content-length'] === undefined) this.takeBytes(companyId, bytes);
  }

  private takeBytes(companyId: string, bytes: number): void {
    if (this.opts.bytesPerMin <= 0) return;
    const uploads = this.uploadsOf(companyId);
    const now = this.clock();
    if (now - uploads.windowStart >= WINDOW_MS) {
      uploads.windowStart = now;
      uploads.bytes = 0;
    }
    if (uploads.bytes + bytes > this.opts.bytesPerMin) {
      const retryAfter = Math.max(1, Math.ceil((uploads.windowStart + WINDOW_MS - now) / 1000));
      throw new AppError(
        'rate_limited',
        `A company may send ${this.opts.bytesPerMin} bytes of feedback bodies a minute; ${uploads.bytes} were sent in this one; retry in ${retryAfter} s`,
        { limit: this.opts.bytesPerMin, used: uploads.bytes, per: 'feedback_bytes', retry_after: retryAfter },
      );
    }
    uploads.bytes += bytes;
  }

  private uploadsOf(companyId: string): CompanyUploads {
    let uploads = this.companies.get(companyId);
    if (!uploads) {
      uploads = { large: 0, windowStart: this.clock(), bytes: 0 };
      this.companies.set(companyId, uploads);
    }
    return uploads;
  }

  private clock(): number {
    return this.opts.clock.now();
  }
}
