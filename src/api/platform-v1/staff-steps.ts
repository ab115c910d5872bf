import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import * as steps from '../../domain/complaint-steps.js';
import { getComplaintDetail } from '../../domain/complaints.js';
import { requireCompany, staffActor } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { EscalatrIdParam, NonEmpty, ok } from '../schemas.js';

/** Staff steps on a company's complaints: admin-scoped API keys, or dashboard sessions of agents and above. */
export function staffStepRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const tags = ['Staff steps'];
    const preHandler = requireCompany(ctx.store.db, ctx.clock, 'work');
    const detail = (request: { company?: { companyId: string } }, id: string) =>
      getComplaintDetail(ctx.store.db, { companyId: request.company!.companyId }, id, ctx.clock.now());

    app.post('/complaints/:id/claim', { preHandler, schema: { tags, params: EscalatrIdParam } }, async (request) => {
      const { id } = request.params as { id: string };
      await steps.claim(ctx, staffActor(request), id);
      return ok(await detail(request, id));
    });

    app.post('/complaints/:id/release', { preHandler, schema: { tags, params: EscalatrIdParam } }, async (request) => {
      const { id } = request.params as { id: string };
      await steps.release(ctx, staffActor(request), id);
      return ok(await detail(request, id));
    });

    const CompleteBody = Type.Object({ resolution_notes: NonEmpty(10_000) }, { additionalProperties: false });
    app.post('/complaints/:id/complete', { preHandler, schema: { tags, params: EscalatrIdParam, body: CompleteBody } }, async (request) => {
      const { id } = request.params as { id: string };
      await steps.complete(ctx, staffActor(request), id, (request.body as typeof CompleteBody.static).resolution_notes);
      return ok(await detail(request, id));
    });

    const MessageBody = Type.Object({ body: NonEmpty(10_000) }, { additionalProperties: false });
    app.post('/complaints/:id/messages', { preHandler, schema: { tags, params: EscalatrIdParam, body: MessageBody } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.status(201).send(ok(await steps.postMessage(ctx, staffActor(request), id, { body: (request.body as typeof MessageBody.static).body })));
    });

    const OfferBody = Type.Object(
      { amount: Type.Number({ minimum: 0, maximum: 1e12 }), currency: Type.String({ pattern: '^[A-Z]{3}$' }), terms: NonEmpty(5_000) },
      { additionalProperties: false },
    );
    app.post('/complaints/:id/settlements', { preHandler, schema: { tags, params: EscalatrIdParam, body: OfferBody } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.status(201).send(ok(await steps.offerSettlement(ctx, staffActor(request), id, request.body as typeof OfferBody.static)));
    });

    const FollowupBody = Type.Object({ question: NonEmpty(5_000) }, { additionalProperties: false });
    app.post('/complaints/:id/followups', { preHandler, schema: { tags, params: EscalatrIdParam, body: FollowupBody } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.status(201).send(ok(await steps.askFollowup(ctx, staffActor(request), id, (request.body as typeof FollowupBody.static).question)));
    });
  };
}
