import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../routes.js';

/** Placeholder: API key management for owners and admins (issues 3 and 6). */
export function apiKeyRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
