import { newId } from '../ids.js';
import type { Db } from '../storage/db.js';
import { getComplaintRow, type PageOf, type RecordPage } from './complaints.js';
import type { DomainContext } from './context.js';
import { iso } from '../clock.js';

/**
 * Internal notes: what a company's staff write to each other about a complaint. They belong to the company's side
 * only — no consumer route reads them, no event carries them (so no webhook or feed does), and adding one leaves the
 * complaint's `updated_at` as it was, so not even the time gives a note away to the consumer.
 */
export const MAX_NOTE_CHARS = 10_000;

export interface NoteView {
  id: string;
  author: string;
  body: string;
  created_at: string;
}

/** Adds a note to one of the company's complaints, in any state (a closed complaint may still need a note). */
export async function addNote(
  ctx: DomainContext,
  companyId: string,
  escalatrId: string,
  input: { author: string; body: string },
): Promise<NoteView> {
  // Another tenant's complaint answers exactly like a missing one.
  await getComplaintRow(ctx.store.db, { companyId }, escalatrId);
  const note = { id: newId('nte'), author: input.author, body: input.body, created_at: ctx.clock.now() };
  await ctx.store.db
    .insertInto('complaint_notes')
    .values({ ...note, complaint_id: escalatrId, company_id: companyId })
    .execute();
  return { ...note, created_at: iso(note.created_at) };
}

/** A complaint's notes, oldest first. */
export async function listNotes(
  db: Db,
  companyId: string,
  escalatrId: string,
  page: RecordPage,
): Promise<PageOf<NoteView>> {
  await getComplaintRow(db, { companyId }, escalatrId);
  const base = db
    .selectFrom('complaint_notes')
    .where('complaint_id', '=', escalatrId)
    .where('company_id', '=', companyId);
  const [rows, count] = await Promise.all([
    base
      .select(['id', 'author', 'body', 'created_at'])
      .orderBy('created_at')
      .orderBy('id')
      .limit(page.limit)
      .offset((page.page - 1) * page.limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    total: Number(count.n),
    rows: rows.map((r) => ({ ...r, created_at: iso(Number(r.created_at)) })),
  };
}
