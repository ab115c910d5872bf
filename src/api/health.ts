import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { RouteDeps } from './routes.js';

/**
 * `/healthz`: the process is up. `/readyz`: the store answers and no write failed for want of it in the last few
 * seconds (see src/storage/availability.ts for why both).
 */
export function healthRoutes({ ctx, readiness: availability }: Pick<RouteDeps, 'ctx' | 'readiness'>) {
  return async (app: FastifyInstance) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const readiness = await availability.check(ctx.store.db);
      if (readiness.ready) return { status: 'ready', store: ctx.store.profile.name };
      reply.header('Retry-After', String(readiness.retry_after_s));
      return reply.status(503).send({ status: 'not_ready', store: ctx.store.profile.name, reason: readiness.reason });
    });
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares digests, so neither the token's length nor its first differing byte shows in the answer's timing. */
function bearerMatches(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization ?? '';
  const m = /^Bearer +(\S+)$/i.exec(header);
  return m !== null && timingSafeEqual(digest(m[1]), expected);
}

/**
 * `/metrics` in Prometheus text format. With a metrics token configured it answers only `Authorization: Bearer
 * <token>` (401 otherwise): the figures name receivers' hosts and show the load, which is nobody else's business.
 */
export function metricsRoute({ metrics, config }: Pick<RouteDeps, 'metrics' | 'config'>) {
  const expected = config.metricsToken ? digest(config.metricsToken) : null;
  return async (app: FastifyInstance) => {
    app.get('/metrics', async (request, reply) => {
      if (expected && !bearerMatches(request, expected)) {
        reply.header('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new AppError('unauthorized', 'The metrics token is missing or wrong');
      }
      if (!metrics) return reply.status(404).send();
      return reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  };
}
