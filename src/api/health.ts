import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from './routes.js';
import { StoreAvailability } from '../storage/availability.js';

/**
 * `/healthz`: the process is up. `/readyz`: the store answers and no write failed for want of it in the last few
 * seconds (see src/storage/availability.ts for why both). `/metrics`: Prometheus text format.
 */
export function healthRoutes({ ctx, metrics }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const availability = app.storeAvailability ?? new StoreAvailability(ctx.store.profile);
    availability.useClock(ctx.clock);
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const readiness = await availability.check(ctx.store.db);
      if (readiness.ready) return { status: 'ready', store: ctx.store.profile.name };
      reply.header('Retry-After', String(readiness.retry_after_s));
      return reply.status(503).send({ status: 'not_ready', store: ctx.store.profile.name, reason: readiness.reason });
    });
    app.get('/metrics', async (_req, reply) => {
      if (!metrics) return reply.status(404).send();
      return reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  };
}
