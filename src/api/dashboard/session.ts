import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../routes.js';

/** Placeholder: dashboard login, logout and session (issue 6). */
export function sessionRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
