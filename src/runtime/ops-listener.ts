import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { frameworkErrorResponder, installErrorHandler } from '../api/error-handler.js';
import { healthRoutes, metricsRoute } from '../api/health.js';
import type { ListenAddress } from '../config.js';
import type { Runtime } from './runtime.js';

/**
 * The operators' listener on METRICS_LISTEN: /metrics, /healthz and /readyz and nothing else, so metrics can be
 * scraped on an address the API's clients cannot reach (a worker process serves them here too). The metrics token,
 * when set, is required here as well.
 */
export async function startOpsListener(
  runtime: Runtime,
  address: ListenAddress,
  logger?: Logger,
): Promise<FastifyInstance> {
  const http = Fastify({
    loggerInstance: logger,
    logger: logger ? undefined : false,
    bodyLimit: 1024,
    frameworkErrors: frameworkErrorResponder,
  }) as unknown as FastifyInstance;
  installErrorHandler(http, runtime.store.profile, runtime.readiness);
  await http.register(healthRoutes(runtime));
  await http.register(metricsRoute(runtime));
  await http.listen({ host: address.host, port: address.port });
  return http;
}
