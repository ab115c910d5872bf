/**
 * One feedback record as a source sends it (the Shield ingestion format), checked field by field. Checking returns a result instead of
 * throwing, so a batch can store its good records and report each bad one with the field and the reason.
 */

import { textProblem } from '../domain/text.js';

/** A record that passed every check, in the shape the store keeps. */
export interface FeedbackInput {
  recordId: string;
  source: string;
  sourceUrl: string | null;
  content: string;
  sourceCreatedAt: number | null;
  threadId: string | null;
  customerId: string | null;
}

export type RecordProblemCode =
  'not_an_object' | 'missing_field' | 'invalid_type' | 'invalid_value' | 'too_long' | 'unknown_field';

interface RecordProblem {
  code: RecordProblemCode;
  field?: string;
  message: string;
}

export type RecordCheck = { ok: true; record: FeedbackInput } | { ok: false; problem: RecordProblem };

export const RECORD_ID_MAX = 200;
export const SOURCE_MAX = 100;
export const CONTENT_MAX = 20_000;
export const URL_MAX = 2048;
export const REF_MAX = 200;

const RECORD_FIELDS = ['id', 'source', 'source_url', 'content', 'created_at', 'thread_id', 'customer_id'] as const;

// Control characters would end up in headers (Idempotency-Key), email subjects and logs.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
// A time without a zone is ambiguous (whose local time?), so a zone is required whenever a time is given.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

class Problem extends Error {
  constructor(readonly problem: RecordProblem) {
    super(problem.message);
  }
}

const fail = (code: RecordProblemCode, field: string, message: string): never => {
  throw new Problem({ code, field, message });
};

const isAbsent = (v: unknown) => v === undefined || v === null;

function text(
  raw: Record<string, unknown>,
  field: string,
  max: number,
  opts: { required: boolean; allowControl?: boolean },
): string | null {
  const value = raw[field];
  // An empty string is what a CSV cell or a form sends for "nothing": absent, not a value.
  if (isAbsent(value) || value === '') {
    if (opts.required) fail('missing_field', field, `${field} is required`);
    return null;
  }
  if (typeof value !== 'string') return fail('invalid_type', field, `${field} must be a string`);
  if (value.trim() === '')
    return fail(opts.required ? 'missing_field' : 'invalid_value', field, `${field} must not be blank`);
  if (value.length > max)
    return fail('too_long', field, `${field} must be at most ${max} characters (got ${value.length})`);
  if (!opts.allowControl && CONTROL.test(value))
    return fail('invalid_value', field, `${field} must not contain control characters`);
  // The same rule as every other text the service stores, so both stores give the same answer.
  const problem = textProblem(value);
  if (problem) return fail('invalid_value', field, `${field} ${problem}`);
  return value;
}

function httpUrl(raw: Record<string, unknown>, field: string): string | null {
  const value = text(raw, field, URL_MAX, { required: false });
  if (value === null) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('invalid_value', field, `${field} must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return fail('invalid_value', field, `${field} must use http or https`);
  return value;
}

function isoTime(raw: Record<string, unknown>, field: string): number | null {
  const value = text(raw, field, 64, { required: false });
  if (value === null) return null;
  const at = ISO_DATE.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (!Number.isFinite(at))
    return fail('invalid_value', field, `${field} must be an ISO 8601 time such as 2026-06-27T11:58:00Z`);
  return at;
}

/**
 * Checks one raw record. `strict` refuses fields the contract does not name (the API, where a typo should be
 * reported); file imports pass false, since exports from other systems often carry extra columns.
 */
export function checkFeedbackRecord(raw: unknown, opts: { strict: boolean }): RecordCheck {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problem: { code: 'not_an_object', message: 'a feedback record must be a JSON object' } };
  }
  const obj = raw as Record<string, unknown>;
  try {
    if (opts.strict) {
      const unknown = Object.keys(obj).find((k) => !(RECORD_FIELDS as readonly string[]).includes(k));
      if (unknown !== undefined)
        fail('unknown_field', unknown, `unknown field ${unknown}; a record has ${RECORD_FIELDS.join(', ')}`);
    }
    const record: FeedbackInput = {
      recordId: text(obj, 'id', RECORD_ID_MAX, { required: true })!,
      source: text(obj, 'source', SOURCE_MAX, { required: true })!.trim(),
      sourceUrl: httpUrl(obj, 'source_url'),
      // Feedback text legitimately has newlines and tabs.
      content: text(obj, 'content', CONTENT_MAX, { required: true, allowControl: true })!,
      sourceCreatedAt: isoTime(obj, 'created_at'),
      threadId: text(obj, 'thread_id', REF_MAX, { required: false }),
      customerId: text(obj, 'customer_id', REF_MAX, { required: false }),
    };
    return { ok: true, record };
  } catch (err) {
    if (err instanceof Problem) return { ok: false, problem: err.problem };
    throw err;
  }
}
