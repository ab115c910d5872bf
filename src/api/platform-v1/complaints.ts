import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../routes.js';

/** Placeholder: GET /api/v1/complaints and /complaints/{id} (issue 3). */
export function complaintReadRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
