import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../routes.js';

/** Placeholder: feedback ingestion and automations (issue 5). */
export function shieldRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
