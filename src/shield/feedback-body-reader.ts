import { Piscina } from 'piscina';
import { AppError } from '../errors.js';
import { threadEntry } from '../threads.js';
import { checkFeedbackBody, readFeedbackBody, type FeedbackBody, type FeedbackBodyOutcome } from './feedback-body.js';

/** Bodies up to this size are read on the event loop: about a millisecond, less than the trip to a thread. */
export const INLINE_BODY_BYTES = 256 * 1024;
/** Large bodies of one company being read (or waiting for the thread) at once; one more is refused. */
export const COMPANY_BODIES_READING = 2;

/**
 * Reads `POST /feedback` bodies: parse and check. A batch may be 24 MB; parsed on the event loop it would hold every
 * request of every company for tens of milliseconds, so large bodies are read in a thread of their own. A company
 * may have COMPANY_BODIES_READING of them there at once, so one company's uploads cannot queue ahead of everyone
 * else's for long.
 */
export class FeedbackBodyReader {
  // Started on the first large body, so a process that never gets one spends nothing on a thread.
  private pool: Piscina<Uint8Array, FeedbackBodyOutcome> | null = null;
  private readonly reading = new Map<string, number>();

  /** `body`: the JSON body's bytes; a body of another type parsed as such (text/plain: a string) is checked as is. */
  async read(companyId: string, body: unknown): Promise<FeedbackBody> {
    if (!(body instanceof Uint8Array)) return checkFeedbackBody(body);
    const bytes = body;
    if (bytes.byteLength <= INLINE_BODY_BYTES) return bodyOf(readFeedbackBody(bytes));
    const now = this.reading.get(companyId) ?? 0;
    if (now >= COMPANY_BODIES_READING)
      throw new AppError(
        'rate_limited',
        `${COMPANY_BODIES_READING} large feedback bodies of this company are being read; send the next when one is answered`,
        { limit: COMPANY_BODIES_READING },
      );
    this.reading.set(companyId, now + 1);
    try {
      this.pool ??= this.start();
      // Handing the bytes over is free when they own their whole buffer; a slice of a shared one is copied.
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      const transferList = whole && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : undefined;
      return bodyOf(await this.pool.run(bytes, transferList ? { transferList } : {}));
    } finally {
      const left = (this.reading.get(companyId) ?? 1) - 1;
      if (left > 0) this.reading.set(companyId, left);
      else this.reading.delete(companyId);
    }
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = null;
  }

  private start(): Piscina<Uint8Array, FeedbackBodyOutcome> {
    const entry = threadEntry(import.meta.url, 'feedback-body-thread');
    return new Piscina({
      filename: entry.filename.href,
      minThreads: 1,
      maxThreads: 1,
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
    });
  }
}

function bodyOf(outcome: FeedbackBodyOutcome): FeedbackBody {
  if (outcome.ok) return outcome.body;
  throw new AppError(outcome.code, outcome.message, outcome.details);
}

let shared: FeedbackBodyReader | null = null;

/** The process's reader. Its idle thread does not keep the process alive, so it needs no closing. */
export function feedbackBodyReader(): FeedbackBodyReader {
  shared ??= new FeedbackBodyReader();
  return shared;
}
