import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../routes.js';

/** Placeholder: webhook endpoints, deliveries and operations (issue 4). */
export function webhookRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
