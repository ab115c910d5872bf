import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../api/routes.js';

/** Placeholder: serves the built dashboard at / (issue 6). */
export function webRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
