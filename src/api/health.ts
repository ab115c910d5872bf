import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { ApiApp, RouteDeps } from './deps.js';

const Healthy = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({ status: Type.Literal('ready'), store: Type.String({ description: 'sqlite or postgres' }) });
const NotReady = Type.Object({
  status: Type.Literal('not_ready'),
  store: Type.String(),
  reason: Type.String(),
});
const MetricsText = {
  description: 'Prometheus text exposition format',
  content: { 'text/plain': { schema: { type: 'string' } } },
};
const tags = ['Operations'];

/**
 * `/healthz`: the process is up. `/readyz`: the store answers and no write failed for want of it in the last few
 * seconds (see src/storage/availability.ts for why both).
 */
export function healthRoutes({ ctx, readiness: availability }: Pick<RouteDeps, 'ctx' | 'readiness'>) {
  return async (app: ApiApp) => {
    app.get('/healthz', { schema: { tags, summary: 'Liveness', response: { 200: Healthy } } }, async () => ({
      status: 'ok' as const,
    }));
    app.get(
      '/readyz',
      {
        schema: {
          tags,
          summary: 'Readiness',
          response: { 200: Ready, 503: { ...NotReady, description: 'The store is not reachable; see Retry-After' } },
        },
      },
      async (_req, reply) => {
        const readiness = await availability.check(ctx.store.db);
        if (readiness.ready) return { status: 'ready' as const, store: ctx.store.profile.name };
        reply.header('Retry-After', String(readiness.retry_after_s));
        return reply
          .status(503)
          .send({ status: 'not_ready' as const, store: ctx.store.profile.name, reason: readiness.reason });
      },
    );
  };
}

export const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares digests, so neither the token's length nor its first differing byte shows in the answer's timing. */
export function bearerMatches(request: FastifyRequest, expected: Buffer): boolean {
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
  return async (app: ApiApp) => {
    app.get(
      '/metrics',
      {
        config: { errors: { 401: 'unauthorized: a metrics token is configured and was not sent' } },
        schema: { tags, summary: 'Prometheus metrics', response: { 200: MetricsText } },
      },
      async (request, reply) => {
        if (expected && !bearerMatches(request, expected)) {
          reply.header('WWW-Authenticate', 'Bearer realm="metrics"');
          throw new AppError('unauthorized', 'The metrics token is missing or wrong');
        }
        if (!metrics) throw new AppError('not_found', 'Route GET /metrics not found');
        return reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
      },
    );
  };
}
