import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from './routes.js';

/** `/healthz`: the process is up. `/readyz`: the store answers. `/metrics`: Prometheus text format. */
export function healthRoutes({ ctx, metrics }: RouteDeps) {
  return async (app: FastifyInstance) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      try {
        await sql`select 1`.execute(ctx.store.db);
        return { status: 'ready', store: ctx.store.profile.name };
      } catch {
        return reply.status(503).send({ status: 'not_ready', store: ctx.store.profile.name });
      }
    });
    app.get('/metrics', async (_req, reply) => {
      if (!metrics) return reply.status(404).send();
      return reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  };
}
