import { Type } from '@sinclair/typebox';
import { addNote, listNotes, MAX_NOTE_CHARS } from '../../domain/complaint-notes.js';
import { requireCompany, staffActor } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { EscalatrIdParam, NonEmpty, ok, Ok, OkList, okList, pageOf, pageQuery } from '../schemas.js';
import { NoteSchema } from '../shapes/complaints.js';

const NoteBody = Type.Object(
  { body: NonEmpty(MAX_NOTE_CHARS, `The note, up to ${MAX_NOTE_CHARS} characters`) },
  { additionalProperties: false },
);
const NOTE_PAGE_LIMIT = 100;
const NotePageQuery = Type.Object(pageQuery(NOTE_PAGE_LIMIT), { additionalProperties: false });

const notesInfo =
  "Internal notes of the company's staff. They are never shown to the consumer: no consumer route reads them, no " +
  'event (so no webhook and no feed entry) carries them, and adding one does not change the complaint.';

/**
 * Internal notes on a company's complaints: staff who work complaints (agents and above, admin keys) add them, any
 * staff credential reads them. They live only under /api/v1, never beside the consumer's record reads.
 */
export function noteRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Internal notes'];
    const work = requireCompany(ctx, 'work');
    const read = requireCompany(ctx, 'read');

    app.post(
      '/complaints/:id/notes',
      {
        onRequest: work,
        schema: {
          tags,
          summary: 'Add an internal note',
          description: notesInfo,
          params: EscalatrIdParam,
          body: NoteBody,
          response: { 201: Ok(NoteSchema, { description: 'The note' }) },
        },
      },
      async (request, reply) => {
        const note = await addNote(ctx, request.company!.companyId, request.params.id, {
          author: staffActor(request).label,
          body: request.body.body,
        });
        return reply.status(201).send(ok(note));
      },
    );

    app.get(
      '/complaints/:id/notes',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Internal notes, oldest first',
          description: notesInfo,
          params: EscalatrIdParam,
          querystring: NotePageQuery,
          response: { 200: OkList(NoteSchema) },
        },
      },
      async (request) => {
        const page = pageOf(request.query, NOTE_PAGE_LIMIT);
        const { rows, total } = await listNotes(ctx.store.db, request.company!.companyId, request.params.id, page);
        return okList(page, rows, total);
      },
    );
  };
}
