import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from './routes.js';

/** Placeholder: the OpenAPI 3 document at /openapi.json and its rendering at /docs (issue 3). */
export async function registerOpenApi(_app: FastifyInstance, _deps: RouteDeps): Promise<void> {}
