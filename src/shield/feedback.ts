import { lockCompanyRow } from '../domain/companies.js';
import type { Signal } from './scoring/model.js';
import { randomBytes } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import { iso } from '../clock.js';
import { FEEDBACK_BATCH_MAX } from '../config.js';
import { transact, type DomainContext, type Work } from '../domain/context.js';
import { RATE_WINDOW_MS } from '../domain/company-limits.js';
import { notFound, overRate } from '../errors.js';
import type { Db, Tx } from '../storage/db.js';
import type { FeedbackRecordsTable } from '../storage/schema.js';
import type { FeedbackInput } from './feedback-record.js';
import type { FeedbackBody, InvalidRecord } from './feedback-body.js';
import { levelsAtLeast, SHIELD_LEVELS, type Level } from './levels.js';
import { wakeAtCommit } from '../queue/wakeup.js';
import { describeCue } from './scoring/cue-descriptions.js';
import { countPast, type CountedRows } from '../storage/counted-rows.js';
import { beforePlace, cursorPage, decodeListCursor, ROW_ID, type ListAfter } from '../domain/list-cursor.js';

export const MAX_BATCH = FEEDBACK_BATCH_MAX;
// Rows per INSERT: 12 columns × 250 stays far below SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK = 250;
// Records per transaction where statements run on the event loop: at most 2 MB of text, about 10 ms of writing.
const STORE_SLICE = 100;

export type FeedbackRow = Selectable<FeedbackRecordsTable>;

export interface StoreResult {
  accepted: number;
  duplicates: number;
}

export interface IngestResult extends StoreResult {
  invalid: InvalidRecord[];
}

/**
 * `POST /feedback`: stores the valid records of a read body (feedback-body.ts) unscored and answers at once; the
 * Shield processor scores them in the background.
 */
export async function ingestFeedback(ctx: DomainContext, companyId: string, body: FeedbackBody): Promise<IngestResult> {
  const stored = await storeFeedback(ctx, companyId, body.valid, {
    perMinute: ctx.config.companyLimits.feedbackPerMin,
  });
  return { ...stored, invalid: body.invalid };
}

// Ids sort by arrival (time, then position in the batch), so the processor scores a thread's records in the order
// they were sent and sentiment_shift compares each with the ones before it.
function feedbackIds(now: number, count: number): string[] {
  const stamp = now.toString(36).padStart(9, '0');
  const salt = randomBytes(6).toString('hex');
  return Array.from({ length: count }, (_, i) => `fb_${stamp}${i.toString(36).padStart(4, '0')}${salt}`);
}

/**
 * Stores records unscored. A record id the company already has (or one repeated in the same batch) is a duplicate:
 * skipped, never stored twice, so it can never alert twice. With `perMinute`, a batch that would take the company
 * over that many records stored in the last minute is refused whole (429 with Retry-After); duplicates do not count,
 * so resending a batch that was stored is never refused.
 *
 * Where statements run on the event loop (SQLite), a batch is written STORE_SLICE records to a transaction, with the
 * event loop let run between them: 1,000 records of 20,000 characters are 20 MB, over 100 ms of writing that would
 * otherwise answer no request of any company. The first transaction checks the rate for the whole batch and
 * reserves its records, so a batch checked meanwhile counts the rest as stored. Should a later transaction fail,
 * the records before it stay stored: sending the batch again stores the rest (the stored ones are duplicates).
 */
export async function storeFeedback(
  ctx: DomainContext,
  companyId: string,
  records: readonly FeedbackInput[],
  opts: { perMinute?: number } = {},
): Promise<StoreResult> {
  const seen = new Set<string>();
  const unique = records.filter((r) => !seen.has(r.recordId) && seen.add(r.recordId));
  if (unique.length === 0) return { accepted: 0, duplicates: records.length };
  const slice = ctx.store.profile.statementsOnEventLoop ? STORE_SLICE : unique.length;
  const reserved = reservationsOf(ctx);
  let accepted = 0;
  let reserving = 0;
  // One arrival time and one run of ids for the whole batch, so its records sort in the order they were sent.
  let arrival: { at: number; ids: string[] } | null = null;
  try {
    for (let from = 0; from < unique.length; from += slice) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      const part = unique.slice(from, from + slice);
      accepted += await transact(ctx, async (work) => {
        arrival ??= { at: work.now, ids: feedbackIds(work.now, unique.length) };
        if (from === 0 && opts.perMinute) {
          const pending = reserved.get(companyId) ?? 0;
          await checkFeedbackRate(ctx, work.tx, companyId, unique, opts.perMinute, work.now, pending);
        }
        const inserted = await insertFeedback(ctx, work, companyId, part, arrival.at, arrival.ids.slice(from));
        // Reserved before the first commit: on the one SQLite connection no other check runs between the two.
        if (from === 0 && part.length < unique.length) {
          reserving = unique.length - part.length;
          reserved.set(companyId, (reserved.get(companyId) ?? 0) + reserving);
        }
        return inserted;
      });
      if (from > 0) {
        reserving -= part.length;
        release(reserved, companyId, part.length);
      }
    }
  } finally {
    if (reserving > 0) release(reserved, companyId, reserving);
  }
  return { accepted, duplicates: records.length - accepted };
}

/** Records of a batch being stored that are not stored yet, per company: the rate check counts them as stored. */
const reservations = new WeakMap<object, Map<string, number>>();

function reservationsOf(ctx: DomainContext): Map<string, number> {
  let map = reservations.get(ctx.store);
  if (!map) reservations.set(ctx.store, (map = new Map()));
  return map;
}

function release(reserved: Map<string, number>, companyId: string, count: number): void {
  const left = (reserved.get(companyId) ?? 0) - count;
  if (left > 0) reserved.set(companyId, left);
  else reserved.delete(companyId);
}

/** Inserts records unscored, skipping ids the company has; wakes the Shield processors at commit. */
async function insertFeedback(
  ctx: DomainContext,
  work: Work,
  companyId: string,
  records: readonly FeedbackInput[],
  receivedAt: number,
  ids: readonly string[],
): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < records.length; i += INSERT_CHUNK) {
    const rows = records.slice(i, i + INSERT_CHUNK).map((r, j) => ({
      id: ids[i + j],
      company_id: companyId,
      record_id: r.recordId,
      source: r.source,
      source_url: r.sourceUrl,
      content: r.content,
      thread_id: r.threadId,
      customer_id: r.customerId,
      source_created_at: r.sourceCreatedAt,
      received_at: receivedAt,
      scored_at: null,
      score_lease_until: null,
    }));
    const done = await work.tx
      .insertInto('feedback_records')
      .values(rows)
      .onConflict((oc) => oc.columns(['company_id', 'record_id']).doNothing())
      .returning('id')
      .execute();
    inserted += done.length;
  }
  // The Shield processors score them at once, here and (PostgreSQL) in other processes.
  if (inserted > 0) await wakeAtCommit(ctx.store, work, 'feedback');
  return inserted;
}

/**
 * Refuses the batch when the company's records stored in the last minute (and `pending`, those of batches being
 * stored) plus the batch's new ones exceed the rate. Runs in the storing transaction, with the company row locked on
 * PostgreSQL, so concurrent batches of one company are counted one after the other.
 */
async function checkFeedbackRate(
  ctx: DomainContext,
  tx: Tx,
  companyId: string,
  records: readonly FeedbackInput[],
  perMinute: number,
  now: number,
  pending: number,
): Promise<void> {
  await lockCompanyRow(ctx, tx, companyId);
  const recent = () => tx.selectFrom('feedback_records').where('company_id', '=', companyId);
  const inWindow = (q: ReturnType<typeof recent>) => q.where('received_at', '>', now - RATE_WINDOW_MS);
  const { n } = await inWindow(recent())
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const used = Number(n) + pending;
  if (used + records.length <= perMinute) return;
  // Over at first sight: records the company already has are duplicates that will not be stored, so not counted.
  let existing = 0;
  for (let i = 0; i < records.length; i += INSERT_CHUNK) {
    const ids = records.slice(i, i + INSERT_CHUNK).map((r) => r.recordId);
    const found = await recent()
      .where('record_id', 'in', ids)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    existing += Number(found.n);
  }
  const fresh = records.length - existing;
  if (fresh === 0 || used + fresh <= perMinute) return;
  // The batch fits once enough of the window's oldest records have left it.
  const mustLeave = used + fresh - perMinute;
  const leaving = await inWindow(recent())
    .select('received_at')
    .orderBy('received_at')
    .limit(1)
    .offset(mustLeave - 1)
    .executeTakeFirst();
  throw overRate(
    'feedback_rate_limited',
    `A company may store ${perMinute} feedback records per minute; ${used} were stored in the last minute and this batch has ${fresh} new ones`,
    (leaving ? leaving.received_at + RATE_WINDOW_MS : now + RATE_WINDOW_MS) - now,
    { limit: perMinute, used, batch: fresh },
  );
}

export interface FeedbackQuery {
  page: number;
  limit: number;
  minLevel?: Level;
  source?: string;
  /** A cursor page: from the start of the list or after a place in it, instead of at the page's offset. */
  after?: ListAfter;
}

/**
 * Where a feedback list's cursor (naming a record by its own id, `fb_…`) starts; a 400 `invalid_query` for any text
 * the list did not give.
 */
export const feedbackListAfter = (cursor: string): ListAfter => decodeListCursor(cursor, ROW_ID);

/**
 * Scored feedback of one company, newest first, optionally at or above a level and from one source, and how many
 * match (counted up to COUNTED_AHEAD past the page's first: a company's records number in the millions after a while).
 * A cursor page reads one row more than the page, to know whether another follows, and counts from its place on.
 */
export async function listFeedback(
  db: Db,
  companyId: string,
  q: FeedbackQuery,
): Promise<{ rows: FeedbackRow[]; total: CountedRows; nextCursor?: string | null }> {
  const place = typeof q.after === 'object' ? q.after : undefined;
  let base = db.selectFrom('feedback_records').where('company_id', '=', companyId).where('scored_at', 'is not', null);
  if (q.source) base = base.where('source', '=', q.source);
  if (place) base = base.where(beforePlace(place, 'received_at', 'id'));
  const offset = q.after ? 0 : (q.page - 1) * q.limit;
  const read = q.after ? q.limit + 1 : q.limit;
  const finish = (rows: FeedbackRow[], total: CountedRows) =>
    q.after
      ? { ...cursorPage(rows, q.limit, (r) => ({ time: Number(r.received_at), id: r.id })), total }
      : { rows, total };
  if (!q.minLevel && !q.source) {
    const [rows, total] = await Promise.all([
      base.selectAll().orderBy('received_at', 'desc').orderBy('id', 'desc').limit(read).offset(offset).execute(),
      countPast(db, base, offset),
    ]);
    return finish(rows, total);
  }
  // At or above a level, or of one source: each level's records newest first from the level index (migration 0062)
  // or, of one source, the source's (0064), as many as reach the page's end, merged. The records at a high level or
  // of a rare source are few, and walking every record for them read a million records for a page (docs/benchmarks.md
  // findings 69 and 72). Of one source at any level, the records whose scoring failed (scored, no level) are a branch
  // of their own.
  const atLeast = q.minLevel ? levelsAtLeast(q.minLevel) : null;
  const levels: Array<Level | null> = atLeast ?? [...SHIELD_LEVELS, null];
  const where = sql.join(
    [
      sql`company_id = ${companyId}`,
      sql`scored_at is not null`,
      ...(q.source ? [sql`source = ${q.source}`] : []),
      ...(place ? [beforePlace(place, 'received_at', 'id')] : []),
    ],
    sql` and `,
  );
  const ofLevel = (level: Level | null, i: number) => sql`
    select * from (select * from feedback_records
      where ${where} and ${level === null ? sql`escalation_level is null` : sql`escalation_level = ${level}`}
      order by received_at desc, id desc limit ${offset + read}) as ${sql.id(`level_${i}`)}`;
  const [page, total] = await Promise.all([
    sql<FeedbackRow>`${sql.join(levels.map(ofLevel), sql` union all `)}
      order by received_at desc, id desc limit ${read} offset ${offset}`.execute(db),
    countPast(db, atLeast ? base.where('escalation_level', 'in', atLeast) : base, offset),
  ]);
  return finish(page.rows, total);
}

/** One record by the source's id, scored or not; another company's record is not found, like a missing one. */
export async function getFeedback(db: Db, companyId: string, recordId: string): Promise<FeedbackRow> {
  const row = await db
    .selectFrom('feedback_records')
    .selectAll()
    .where('company_id', '=', companyId)
    .where('record_id', '=', recordId)
    .executeTakeFirst();
  if (!row) throw notFound('feedback record');
  return row;
}

/**
 * The records of one record's thread (its own included), in the order they arrived — the order the scorer compared
 * their sentiments in. A record without a thread is a thread of one. Another company's record is not found.
 */
export async function listThread(
  db: Db,
  companyId: string,
  recordId: string,
  page: { page: number; limit: number },
): Promise<{ rows: FeedbackRow[]; total: number }> {
  const record = await getFeedback(db, companyId, recordId);
  if (record.thread_id === null) return { rows: page.page === 1 ? [record] : [], total: 1 };
  const base = db
    .selectFrom('feedback_records')
    .where('company_id', '=', companyId)
    .where('thread_id', '=', record.thread_id);
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy('received_at')
      .orderBy('id')
      .limit(page.limit)
      .offset((page.page - 1) * page.limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** What the processor stores beside a record's levels (see ScoreResult). */
interface StoredExplanation {
  signals: Signal[];
  escalation_logits: number[];
}

/** The API's view of a record: its fields as sent, plus the scores once it is scored. */
export function feedbackView(row: FeedbackRow) {
  const cues = row.cues ? (JSON.parse(row.cues) as string[]) : [];
  return {
    id: row.record_id,
    source: row.source,
    source_url: row.source_url,
    content: row.content,
    thread_id: row.thread_id,
    customer_id: row.customer_id,
    created_at: row.source_created_at === null ? null : iso(row.source_created_at),
    received_at: iso(row.received_at),
    scored_at: row.scored_at === null ? null : iso(row.scored_at),
    levels:
      row.escalation_level === null
        ? null
        : {
            // The scorer writes only level names into these columns.
            escalation_level: row.escalation_level as Level,
            emotional_intensity_level: row.emotional_intensity_level as Level | null,
            sentiment_shift: row.sentiment_shift,
          },
    sentiment: row.sentiment_score,
    cues,
    /** What drove the levels: each cue that fired, with its group and what it means. */
    signals: cues.map(describeCue),
    explanation: row.explanation ? (JSON.parse(row.explanation) as StoredExplanation).signals : [],
  };
}
