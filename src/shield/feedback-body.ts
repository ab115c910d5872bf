import sjson from 'secure-json-parse';
import { FEEDBACK_BATCH_MAX } from '../config.js';
import { AppError, validationFailed } from '../errors.js';
import { checkFeedbackRecord, type FeedbackInput, type RecordProblemCode } from './feedback-record.js';

export interface InvalidRecord {
  index: number;
  code: RecordProblemCode;
  field?: string;
  message: string;
}

/** A feedback body read and checked: the records to store, and each invalid one by its index in the batch. */
export interface FeedbackBody {
  valid: FeedbackInput[];
  invalid: InvalidRecord[];
  /** One record was sent, not `{ records }`: an invalid one refuses the request instead of being reported. */
  single: boolean;
}

/**
 * The bytes of a `POST /feedback` body as JSON, read as the API's JSON parser reads every other body: UTF-8, and a
 * `__proto__` or `constructor.prototype` key refused.
 */
function parseFeedbackJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0)
    throw new AppError('invalid_json', 'The body is empty but Content-Type is application/json');
  try {
    return sjson.parse(new TextDecoder().decode(bytes), null, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw new AppError('invalid_json');
  }
}

/** Splits the body into raw records: one record, or `{ records: [...] }` with 1–1000 of them. */
function rawRecords(body: unknown): { raw: unknown[]; single: boolean } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('invalid_request', 'Send one feedback record or { "records": [ … ] } as a JSON object');
  }
  const obj = body as Record<string, unknown>;
  if (!('records' in obj)) return { raw: [obj], single: true };
  const extra = Object.keys(obj).find((k) => k !== 'records');
  if (extra !== undefined)
    throw validationFailed(`unknown field ${extra}; a batch is { "records": [ … ] }`, { field: extra });
  const records = obj.records;
  if (!Array.isArray(records))
    throw validationFailed('records must be an array of feedback records', { field: 'records' });
  if (records.length === 0) throw validationFailed('records must hold at least one record', { field: 'records' });
  if (records.length > FEEDBACK_BATCH_MAX)
    throw validationFailed(`records may hold at most ${FEEDBACK_BATCH_MAX} records (got ${records.length})`, {
      field: 'records',
    });
  return { raw: records, single: false };
}

/** Checks every record of a parsed body. A single invalid record is refused whole (400), as a request. */
export function checkFeedbackBody(body: unknown): FeedbackBody {
  const { raw, single } = rawRecords(body);
  const valid: FeedbackInput[] = [];
  const invalid: InvalidRecord[] = [];
  raw.forEach((item, index) => {
    const checked = checkFeedbackRecord(item, { strict: true });
    if (checked.ok) valid.push(checked.record);
    else invalid.push({ index, ...checked.problem });
  });
  if (single && invalid.length) {
    const p = invalid[0];
    throw validationFailed(p.message, { field: p.field, problem: p.code });
  }
  return { valid, invalid, single };
}

/** What a reading thread answers: the checked body, or the refusal to send as it was made. */
export type FeedbackBodyOutcome =
  | { ok: true; body: FeedbackBody }
  | { ok: false; code: AppError['code']; message: string; details?: Record<string, unknown> };

/** Parses and checks, with a refusal returned as data (an AppError does not survive the trip out of a thread). */
export function readFeedbackBody(bytes: Uint8Array): FeedbackBodyOutcome {
  try {
    return { ok: true, body: checkFeedbackBody(parseFeedbackJson(bytes)) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { ok: false, code: err.code, message: err.message, details: err.details };
  }
}
