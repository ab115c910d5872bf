import { Type } from '@sinclair/typebox';
import type { ApiApp, RouteDeps } from './deps.js';
import { StoreAvailability } from '../storage/availability.js';

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

/**
 * `/healthz`: the process is up. `/readyz`: the store answers and no write failed for want of it in the last few
 * seconds (see src/storage/availability.ts for why both). `/metrics`: Prometheus text format.
 */
export function healthRoutes({ ctx, metrics }: RouteDeps) {
  return async (app: ApiApp) => {
    const availability = app.storeAvailability ?? new StoreAvailability(ctx.store.profile);
    availability.useClock(ctx.clock);
    const tags = ['Operations'];
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
    // Without a registry there is no /metrics route at all (a plain 404).
    if (metrics) {
      app.get(
        '/metrics',
        { schema: { tags, summary: 'Prometheus metrics', response: { 200: MetricsText } } },
        async (_req, reply) =>
          reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics()),
      );
    }
  };
}
