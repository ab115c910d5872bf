import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../routes.js';

/** Placeholder: GET /api/v1/events, the feed (issue 3). */
export function eventFeedRoutes(_deps: RouteDeps) {
  return async (_app: FastifyInstance) => {};
}
