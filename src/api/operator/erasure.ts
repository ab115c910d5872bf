import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, routeNotFound } from '../../errors.js';
import { eraseConsumer } from '../../shield/erasure.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { bearerMatches, digest } from '../health.js';
import { ok, Ok } from '../schemas.js';
import { ErasureBody, ErasureResultSchema } from '../shapes/operator.js';

/**
 * The operator's routes. A consumer's data spans companies, so erasing it is the operator's action, never a
 * company's: no API key or dashboard session reaches these routes, only the operator token
 * (ESCALATR_OPERATOR_TOKEN). Without one configured they answer 404 like any unknown route.
 */
export function operatorRoutes({ ctx, config }: Pick<RouteDeps, 'ctx' | 'config'>) {
  const expected = config.operatorToken ? digest(config.operatorToken) : null;
  // onRequest, before the body is read: an anonymous caller learns nothing from a 400 and costs no parsing.
  const requireOperator = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!expected) throw routeNotFound(request.method, request.url);
    if (!bearerMatches(request, expected)) {
      request.server.anonymousLimit.spend(request);
      reply.header('WWW-Authenticate', 'Bearer realm="operator"');
      throw new AppError('unauthorized', 'The operator token is missing or wrong');
    }
  };
  return async (app: ApiApp) => {
    app.post(
      '/erasures',
      {
        onRequest: requireOperator,
        config: {
          errors: {
            401: 'unauthorized: the operator token is missing or wrong (company credentials never reach this route)',
            404: 'not_found: no operator token is configured',
          },
        },
        schema: {
          tags: ['Operations'],
          summary: "Erase a consumer's personal data",
          description:
            "Removes or redacts one consumer's personal data everywhere it was copied (complaints, messages, " +
            'evidence, event bodies, attempt excerpts, Shield records, tokens) and writes an audit entry. ' +
            'Idempotent: an unknown or already erased address answers 200 with `found: false`.',
          body: ErasureBody,
          response: { 200: Ok(ErasureResultSchema) },
        },
      },
      async (request) =>
        ok(await eraseConsumer(ctx, { email: request.body.email, actor: `api:operator-token@${request.ip}` })),
    );
  };
}
