import { sql } from 'kysely';
import type { Db, Tx } from '../storage/db.js';

/** What stands where erased words were. */
export const ERASED = '[erased]';

/**
 * Texts shorter than this are not searched for elsewhere: a consumer's two-word message ("thank you") would
 * otherwise cut those words out of every staff note. Their own fields are replaced whole whatever their length.
 */
const MIN_COPIED_TEXT = 12;
/** A name shorter than this ("Al") is too common a string to cut out of other people's text. */
const MIN_NAME = 3;
const PER_STATEMENT = 500;
/** Rows one step of a table scan reads: a few milliseconds, so requests served between steps barely notice it. */
const SCAN_STEP = 2_000;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A LIKE pattern matching `text` anywhere, with LIKE's own wildcards escaped (e-mail addresses contain `_`). */
const containsPattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A text column searched for an e-mail address by a table scan: the places an address can travel unindexed. */
export type ScannedColumn = { table: 'events'; column: 'body' } | { table: 'feedback_records'; column: 'content' };

/**
 * Where a scan reached: the ids of rows that matched, and the last id read. Rows written after the scan began have
 * later ids (ids start with their creation time), so the erasure's transaction reads only the rows past `through`.
 */
export interface ScanResult {
  ids: string[];
  through: string;
}

/**
 * The rows of `target` whose text names `email` (case-insensitive), read in steps of SCAN_STEP rows by primary key
 * outside any transaction: a scan of a large history in one statement would hold the store (and on SQLite the
 * process) for seconds, and inside the erasure's transaction it would also hold the write lock that long.
 */
export async function scanForAddress(
  db: Db,
  target: ScannedColumn,
  email: string,
  step = SCAN_STEP,
): Promise<ScanResult> {
  const ids: string[] = [];
  let through = '';
  for (;;) {
    const bound = await sql<{ id: string }>`select id from ${sql.table(target.table)} where id > ${through}
      order by id limit 1 offset ${step - 1}`.execute(db);
    const upTo = bound.rows[0]?.id ?? null;
    const { rows } = await sql<{ id: string }>`select id from ${sql.table(target.table)} where id > ${through}
      ${upTo === null ? sql`` : sql`and id <= ${upTo}`}
      and ${addressIn(target, email)}`.execute(db);
    ids.push(...rows.map((r) => r.id));
    if (upTo === null) {
      const last = await sql<{ id: string }>`select max(id) as id from ${sql.table(target.table)}`.execute(db);
      return { ids, through: last.rows[0]?.id ?? through };
    }
    through = upTo;
    // Let requests waiting on this process's store connection in between.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The condition "this row's text names the address", for a scan or the rows past one. */
export const addressIn = (target: ScannedColumn, email: string) =>
  sql<boolean>`lower(${sql.ref(target.column)}) like ${containsPattern(email)} escape '\\'`;

export const EVENT_BODIES: ScannedColumn = { table: 'events', column: 'body' };

/**
 * One person's identity and words: their e-mail address, their name, and the texts they wrote. It replaces every
 * copy of them in other text (a staff note quoting the consumer, an event body) with ERASED.
 */
export class Redactor {
  private readonly needles = new Set<string>();
  private pattern: RegExp | null = null;

  constructor(readonly email: string) {
    this.add(email, 1);
  }

  /** A text of the person's that may have been copied elsewhere. */
  addText(text: string | null | undefined, min = MIN_COPIED_TEXT): void {
    if (text) this.add(text, min);
  }

  addName(name: string | null | undefined): void {
    this.addText(name, MIN_NAME);
  }

  private add(text: string, min: number): void {
    const trimmed = text.trim();
    if (trimmed.length < min || trimmed === ERASED) return;
    this.needles.add(trimmed.toLowerCase());
    this.pattern = null;
  }

  /** `text` with every copy of the person's identity and words replaced. */
  scrub(text: string): string {
    // Longest first, so a description that contains the name goes whole rather than leaving its remainder.
    this.pattern ??= new RegExp(
      [...this.needles]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|'),
      'gi',
    );
    return text.replace(this.pattern, ERASED);
  }

  scrubNullable(text: string | null): string | null {
    return text === null ? null : this.scrub(text);
  }

  /**
   * A JSON document with every string scrubbed, and the string values of `erasedKeys` replaced whole (fields that
   * are the person's by nature, such as an uploaded file's name). Returns null when nothing changed, so an event
   * body that held nothing of the person keeps its exact bytes.
   */
  scrubJson(body: string, erasedKeys: ReadonlySet<string> = new Set()): string | null {
    let changed = false;
    const walk = (value: unknown, key: string | null): unknown => {
      if (typeof value === 'string') {
        const next = key !== null && erasedKeys.has(key) ? ERASED : this.scrub(value);
        if (next !== value) changed = true;
        return next;
      }
      if (Array.isArray(value)) return value.map((v) => walk(v, null));
      if (value && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
      }
      return value;
    };
    const next = JSON.stringify(walk(JSON.parse(body), null));
    return changed ? next : null;
  }
}

/** The person to erase, as the store knows them: their consumer row (if any) and the complaints they hold. */
export interface ErasureSubject {
  email: string;
  consumerId: string | null;
  /** Complaints whose consumer this is: their text is the person's. */
  complaints: Array<{ escalatr_id: string; company_id: string }>;
  /** Other people's complaints delegated to this person (without a transfer). */
  delegatedTo: Array<{ escalatr_id: string; company_id: string }>;
  redactor: Redactor;
}

/** Counts of what an erasure changed; no personal data. */
export interface ComplaintErasureCounts {
  consumer_removed: boolean;
  tokens_removed: number;
  complaints_redacted: number;
  messages_redacted: number;
  evidence_removed: number;
  followups_redacted: number;
  drafts_redacted: number;
  events_redacted: number;
}

/** Consumer-written fields of event data, replaced whole on the person's complaints. */
const PERSONAL_EVENT_KEYS = new Set(['to_email', 'file_name']);

const ids = (rows: ReadonlyArray<{ escalatr_id: string }>) => rows.map((r) => r.escalatr_id);

function chunks<T>(values: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += PER_STATEMENT) out.push(values.slice(i, i + PER_STATEMENT));
  return out;
}

/**
 * Finds the person behind an e-mail address and gathers everything they wrote, so copies of it can be found: the
 * consumer row, the complaints they hold, their messages (on any complaint), answers, drafts and evidence names.
 */
export async function findErasureSubject(tx: Tx, email: string): Promise<ErasureSubject> {
  const redactor = new Redactor(email);
  const consumer = await tx.selectFrom('consumers').selectAll().where('email', '=', email).executeTakeFirst();
  redactor.addName(consumer?.name);
  const complaints = consumer
    ? await tx
        .selectFrom('complaints')
        .select(['escalatr_id', 'company_id', 'title', 'description'])
        .where('consumer_id', '=', consumer.id)
        .execute()
    : [];
  const delegatedTo = await tx
    .selectFrom('complaints')
    .select(['escalatr_id', 'company_id'])
    .where('delegated_to', '=', email)
    .$if(consumer !== undefined, (q) => q.where('consumer_id', '!=', consumer!.id))
    .execute();
  for (const c of complaints) {
    redactor.addText(c.title);
    redactor.addText(c.description);
  }
  for (const part of chunks(ids(complaints))) {
    for (const m of await tx
      .selectFrom('messages')
      .select('body')
      .where('complaint_id', 'in', part)
      .where('author_kind', '=', 'consumer')
      .execute())
      redactor.addText(m.body);
    for (const f of await tx.selectFrom('followups').select('answer').where('complaint_id', 'in', part).execute())
      redactor.addText(f.answer);
    for (const table of ['action_drafts', 'social_drafts'] as const)
      for (const d of await tx.selectFrom(table).select('body').where('complaint_id', 'in', part).execute())
        redactor.addText(d.body);
    for (const e of await tx.selectFrom('evidence').select('file_name').where('complaint_id', 'in', part).execute())
      redactor.addText(e.file_name);
  }
  // Messages they wrote on complaints that are no longer theirs (transferred by delegation).
  for (const m of await tx.selectFrom('messages').select('body').where('author', '=', email).execute())
    redactor.addText(m.body);
  return {
    email,
    consumerId: consumer?.id ?? null,
    complaints: complaints.map(({ escalatr_id, company_id }) => ({ escalatr_id, company_id })),
    delegatedTo,
    redactor,
  };
}

/**
 * Removes the person from the complaint records: the complaints stay (they are the company's records: category,
 * amounts, states, levels, times) without the person's identity and words; what the person wrote is replaced, what
 * staff wrote keeps its text with the person's identity and words cut out; evidence files, consumer tokens and the
 * consumer row are deleted. Event bodies are redacted where they hold any of it (`extraEventIds`: events another
 * part found, such as Shield alerts). Returns the counts and the ids of the events whose bodies changed.
 */
export async function eraseComplaintRecords(
  tx: Tx,
  subject: ErasureSubject,
  eventsNamingAddress: ScanResult,
  extraEventIds: readonly string[] = [],
): Promise<{ counts: ComplaintErasureCounts; redactedEventIds: string[] }> {
  const { redactor, email } = subject;
  const own = ids(subject.complaints);
  const counts: ComplaintErasureCounts = {
    consumer_removed: false,
    tokens_removed: 0,
    complaints_redacted: own.length,
    messages_redacted: 0,
    evidence_removed: 0,
    followups_redacted: 0,
    drafts_redacted: 0,
    events_redacted: 0,
  };

  // Staff-written text on these complaints is scrubbed row by row (it may quote the person). Table and column names
  // are this module's constants, never input.
  const scrubRows = async (
    target:
      | { table: 'complaints'; key: 'escalatr_id'; column: 'resolution_notes' }
      | { table: 'messages'; key: 'id'; column: 'body' }
      | { table: 'settlement_offers'; key: 'id'; column: 'terms' }
      | { table: 'followups'; key: 'id'; column: 'question' }
      | { table: 'complaint_notes'; key: 'id'; column: 'body' },
    complaintIds: string[],
  ) => {
    const complaintColumn = target.table === 'complaints' ? 'escalatr_id' : 'complaint_id';
    const staffOnly = target.table === 'messages' ? sql` and author_kind = 'staff'` : sql``;
    const { rows } = await sql<{ id: string; text: string | null }>`
      select ${sql.ref(target.key)} as id, ${sql.ref(target.column)} as text from ${sql.table(target.table)}
      where ${sql.ref(complaintColumn)} in (${sql.join(complaintIds)})${staffOnly}`.execute(tx);
    let n = 0;
    for (const row of rows) {
      const next = redactor.scrubNullable(row.text);
      if (next === row.text) continue;
      await sql`update ${sql.table(target.table)} set ${sql.ref(target.column)} = ${next}
        where ${sql.ref(target.key)} = ${row.id}`.execute(tx);
      n++;
    }
    return n;
  };

  for (const part of chunks(own)) {
    await scrubRows({ table: 'complaints', key: 'escalatr_id', column: 'resolution_notes' }, part);
    await tx
      .updateTable('complaints')
      .set({ title: ERASED, description: ERASED, delegated_to: null })
      .where('escalatr_id', 'in', part)
      .execute();
    const mine = await tx
      .updateTable('messages')
      .set({ body: ERASED, author: ERASED })
      .where('complaint_id', 'in', part)
      .where('author_kind', '=', 'consumer')
      .where('body', '!=', ERASED)
      .executeTakeFirst();
    counts.messages_redacted += Number(mine.numUpdatedRows);
    counts.messages_redacted += await scrubRows({ table: 'messages', key: 'id', column: 'body' }, part);
    await scrubRows({ table: 'settlement_offers', key: 'id', column: 'terms' }, part);
    // Internal notes are staff text too: kept, with the person's identity and words cut out.
    await scrubRows({ table: 'complaint_notes', key: 'id', column: 'body' }, part);
    counts.followups_redacted += await scrubRows({ table: 'followups', key: 'id', column: 'question' }, part);
    const answers = await tx
      .updateTable('followups')
      .set({ answer: ERASED })
      .where('complaint_id', 'in', part)
      .where('answer', 'is not', null)
      .where('answer', '!=', ERASED)
      .executeTakeFirst();
    counts.followups_redacted += Number(answers.numUpdatedRows);
    for (const table of ['action_drafts', 'social_drafts'] as const) {
      const drafts = await tx
        .updateTable(table)
        .set({ body: ERASED })
        .where('complaint_id', 'in', part)
        .where('body', '!=', ERASED)
        .executeTakeFirst();
      counts.drafts_redacted += Number(drafts.numUpdatedRows);
    }
    // The files are the person's through and through; the `evidence.uploaded` event still tells that one came.
    const evidence = await tx.deleteFrom('evidence').where('complaint_id', 'in', part).executeTakeFirst();
    counts.evidence_removed += Number(evidence.numDeletedRows);
  }
  // Messages the person wrote on complaints another consumer now holds, and complaints delegated to them.
  const elsewhere = await tx
    .updateTable('messages')
    .set({ body: ERASED, author: ERASED })
    .where('author', '=', email)
    .executeTakeFirst();
  counts.messages_redacted += Number(elsewhere.numUpdatedRows);
  for (const part of chunks(ids(subject.delegatedTo))) {
    await tx.updateTable('complaints').set({ delegated_to: null }).where('escalatr_id', 'in', part).execute();
  }

  const redactedEventIds = await redactEvents(tx, subject, eventsNamingAddress, extraEventIds);
  counts.events_redacted = redactedEventIds.length;

  // Sign-in links name the address; portal sessions would keep the person signed in after the erasure.
  await tx.deleteFrom('consumer_sign_in_links').where('email', '=', email).execute();
  if (subject.consumerId) {
    await tx.deleteFrom('consumer_sessions').where('consumer_id', '=', subject.consumerId).execute();
    const tokens = await tx
      .deleteFrom('consumer_tokens')
      .where('consumer_id', '=', subject.consumerId)
      .executeTakeFirst();
    counts.tokens_removed = Number(tokens.numDeletedRows);
    await tx.deleteFrom('consumers').where('id', '=', subject.consumerId).execute();
    counts.consumer_removed = true;
  }
  return { counts, redactedEventIds };
}

/**
 * Event bodies holding the person: every event of their complaints and of complaints delegated to them, the
 * `extraEventIds`, and any other event whose body names their e-mail address (an address can travel in any event's
 * data: found by the scan before the transaction, and here among the events written since). Deliveries still
 * pending read the body when they are sent, so they send the redacted one.
 */
async function redactEvents(
  tx: Tx,
  subject: ErasureSubject,
  scanned: ScanResult,
  extraEventIds: readonly string[],
): Promise<string[]> {
  const candidates = new Map<string, boolean>(); // event id → is it an event of the person's own complaints
  const byCompany = new Map<string, string[]>();
  for (const c of subject.complaints)
    byCompany.set(c.company_id, [...(byCompany.get(c.company_id) ?? []), c.escalatr_id]);
  for (const [companyId, complaintIds] of byCompany) {
    for (const part of chunks(complaintIds)) {
      for (const e of await tx
        .selectFrom('events')
        .select('id')
        .where('company_id', '=', companyId)
        .where('complaint_id', 'in', part)
        .execute())
        candidates.set(e.id, true);
    }
  }
  for (const c of subject.delegatedTo) {
    for (const e of await tx
      .selectFrom('events')
      .select('id')
      .where('company_id', '=', c.company_id)
      .where('complaint_id', '=', c.escalatr_id)
      .execute())
      if (!candidates.has(e.id)) candidates.set(e.id, false);
  }
  for (const id of [...extraEventIds, ...scanned.ids]) if (!candidates.has(id)) candidates.set(id, false);
  for (const e of await tx
    .selectFrom('events')
    .select('id')
    .where('id', '>', scanned.through)
    .where(addressIn(EVENT_BODIES, subject.email))
    .execute())
    if (!candidates.has(e.id)) candidates.set(e.id, false);

  const changed: string[] = [];
  for (const part of chunks([...candidates.keys()])) {
    for (const e of await tx.selectFrom('events').select(['id', 'body']).where('id', 'in', part).execute()) {
      const next = subject.redactor.scrubJson(e.body, candidates.get(e.id) ? PERSONAL_EVENT_KEYS : undefined);
      if (next === null) continue;
      await tx.updateTable('events').set({ body: next }).where('id', '=', e.id).execute();
      changed.push(e.id);
    }
  }
  return changed;
}
