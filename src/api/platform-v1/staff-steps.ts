import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import * as steps from '../../domain/complaint-steps.js';
import { getComplaintDetail, type ComplaintScope } from '../../domain/complaints.js';
import { requireCompany, staffActor } from '../auth.js';
import { registerComplaintRecordReads } from '../complaint-records.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { EscalatrIdParam, NonEmpty, ok, Ok } from '../schemas.js';
import {
  ComplaintDetailSchema,
  FollowupAskedSchema,
  MessagePostedSchema,
  SettlementOfferedSchema,
} from '../shapes/complaints.js';

const CompleteBody = Type.Object({ resolution_notes: NonEmpty(10_000) }, { additionalProperties: false });
const MessageBody = Type.Object({ body: NonEmpty(10_000) }, { additionalProperties: false });
const OfferBody = Type.Object(
  {
    amount: Type.Number({ minimum: 0, maximum: 1e12 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    terms: NonEmpty(5_000),
  },
  { additionalProperties: false },
);
const FollowupBody = Type.Object({ question: NonEmpty(5_000) }, { additionalProperties: false });
const AssignBody = Type.Object(
  { assignee: NonEmpty(320, 'The email of a staff user of your company (owner, admin or agent)') },
  { additionalProperties: false },
);

// The staff steps' state machine, as the operations describe it (the README has the whole table).
const claimInfo =
  'Takes ownership. 409 `already_claimed` if someone holds it, `already_completed` once the company completed ' +
  'it (until the consumer escalates), `invalid_transition` once Resolved or Withdrawn.';
const releaseInfo =
  'Gives ownership back. 409 `not_claimed` if nobody holds it, `already_completed` once completed, ' +
  '`invalid_transition` once Resolved or Withdrawn.';
const completeInfo =
  "The company's answer, with resolution notes: the detail then shows `company_completed: true` and " +
  '`awaiting: "consumer"` (the consumer resolves to confirm, or escalates). 409 `not_claimed` unless claimed, ' +
  '`already_completed` the second time, `invalid_transition` once Resolved or Withdrawn.';

const assignInfo =
  'Gives the complaint to a staff user of your company, or moves it to another (admins; a claim is assigning ' +
  'yourself). `claimed_by` becomes theirs and `complaint.assigned` is written with `assigned_to`, `assigned_by` and ' +
  '`previous_assignee`. It is routing, not an answer to the consumer: the response window keeps running.';

const Detail = Ok(ComplaintDetailSchema, { description: 'The complaint after the step' });
const stepErrors = { 404: 'not_found: not a complaint of your company', 409: 'invalid_transition: not allowed now' };

/**
 * Staff steps on a company's complaints (an admin-scoped API key, or a session of an agent and above), and the
 * reads a detail page needs (any key or session). Credentials are checked on request, before the body is read,
 * so an unauthenticated caller learns nothing from validation and cannot make the server parse a large body.
 */
export function staffStepRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Staff steps'];
    const work = requireCompany(ctx, 'work');
    const admin = requireCompany(ctx, 'admin');
    const read = requireCompany(ctx, 'read');
    const scope = (request: FastifyRequest): ComplaintScope => ({ companyId: request.company!.companyId });
    const detail = (request: FastifyRequest, id: string) =>
      getComplaintDetail(ctx.store.db, scope(request), id, ctx.clock.now());

    // Claim and release take no body and answer the complaint as it then is.
    const ownershipStep = (step: 'claim' | 'release', summary: string, description: string) =>
      app.post(
        `/complaints/:id/${step}`,
        {
          onRequest: work,
          config: { errors: stepErrors },
          schema: { tags, summary, description, params: EscalatrIdParam, response: { 200: Detail } },
        },
        async (request) => {
          await steps[step](ctx, staffActor(request), request.params.id);
          return ok(await detail(request, request.params.id));
        },
      );

    ownershipStep('claim', 'Claim a complaint', claimInfo);

    app.post(
      '/complaints/:id/assign',
      {
        onRequest: admin,
        config: {
          errors: {
            404: 'not_found: not a complaint of your company; assignee_not_found: no staff user of your company has that email',
            409:
              'already_claimed: it is already theirs; already_completed: the company completed it; invalid_transition: ' +
              'Resolved or Withdrawn; assignee_cannot_work: the user is a viewer',
          },
        },
        schema: {
          tags,
          summary: 'Assign or reassign a complaint',
          description: assignInfo,
          params: EscalatrIdParam,
          body: AssignBody,
          response: { 200: Detail },
        },
      },
      async (request) => {
        await steps.assign(ctx, staffActor(request), request.params.id, request.body.assignee);
        return ok(await detail(request, request.params.id));
      },
    );

    ownershipStep('release', 'Release a claim', releaseInfo);

    app.post(
      '/complaints/:id/complete',
      {
        onRequest: work,
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Complete (resolve) a complaint',
          description: completeInfo,
          params: EscalatrIdParam,
          body: CompleteBody,
          response: { 200: Detail },
        },
      },
      async (request) => {
        await steps.complete(ctx, staffActor(request), request.params.id, request.body.resolution_notes);
        return ok(await detail(request, request.params.id));
      },
    );

    app.post(
      '/complaints/:id/messages',
      {
        onRequest: work,
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Post a message to the consumer',
          params: EscalatrIdParam,
          body: MessageBody,
          response: { 201: Ok(MessagePostedSchema) },
        },
      },
      async (request, reply) => {
        const result = await steps.postMessage(ctx, staffActor(request), request.params.id, {
          body: request.body.body,
        });
        return reply.status(201).send(ok(result));
      },
    );

    app.post(
      '/complaints/:id/settlements',
      {
        onRequest: work,
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Offer a settlement',
          params: EscalatrIdParam,
          body: OfferBody,
          response: { 201: Ok(SettlementOfferedSchema) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(ok(await steps.offerSettlement(ctx, staffActor(request), request.params.id, request.body))),
    );

    app.post(
      '/complaints/:id/followups',
      {
        onRequest: work,
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Ask the consumer a follow-up question',
          params: EscalatrIdParam,
          body: FollowupBody,
          response: { 201: Ok(FollowupAskedSchema) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(ok(await steps.askFollowup(ctx, staffActor(request), request.params.id, request.body.question))),
    );

    registerComplaintRecordReads(app, { db: ctx.store.db, tags, scope, onRequest: read, socialPostedOnly: true });
  };
}
