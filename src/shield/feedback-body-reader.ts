import { Piscina } from 'piscina';
import { AppError } from '../errors.js';
import { threadEntry } from '../threads.js';
import { checkFeedbackBody, readFeedbackBody, type FeedbackBody, type FeedbackBodyOutcome } from './feedback-body.js';

/** Bodies up to this size are read on the event loop: about a millisecond, less than the trip to a thread. */
export const INLINE_BODY_BYTES = 256 * 1024;
/**
 * Reads `POST /feedback` bodies: parse and check. A batch may be 24 MB; parsed on the event loop it would hold every
 * request of every company for tens of milliseconds, so large bodies are read in a thread of their own. (How many
 * of one company's may be there at once is the API's to bound: src/api/feedback-uploads.ts.)
 */
export class FeedbackBodyReader {
  // Started on the first large body, so a process that never gets one spends nothing on a thread.
  private pool: Piscina<Uint8Array, FeedbackBodyOutcome> | null = null;

  /** `body`: the JSON body's bytes; a body of another type parsed as such (text/plain: a string) is checked as is. */
  async read(body: unknown): Promise<FeedbackBody> {
    if (!(body instanceof Uint8Array)) return checkFeedbackBody(body);
    if (body.byteLength <= INLINE_BODY_BYTES) return bodyOf(readFeedbackBody(body));
    this.pool ??= this.start();
    // Handing the bytes over is free when they own their whole buffer; a slice of a shared one is copied.
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const transferList = whole && body.buffer instanceof ArrayBuffer ? [body.buffer] : undefined;
    return bodyOf(await this.pool.run(body, transferList ? { transferList } : {}));
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
