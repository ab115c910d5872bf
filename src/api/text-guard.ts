import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findInvalidText } from '../domain/text.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route checks the text of its body itself, record by record (a feedback batch reports bad records by index
     * and stores the rest); the guard still checks its query and path parameters.
     */
    bodyTextCheckedByRoute?: boolean;
  }
}

const PARTS = ['params', 'query', 'body'] as const;

/**
 * The one place text from a request is checked: every string of the path parameters, the query and a JSON body —
 * at any depth, property names too — must be storable (src/domain/text.ts). It runs after authentication and
 * parsing, before schema validation, for every route: a bad string is 400 `invalid_text` naming the field, whatever
 * the route and whatever the store. No header value is stored, so headers are not walked.
 */
export function installTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    for (const part of PARTS) {
      if (part === 'body' && request.routeOptions.config?.bodyTextCheckedByRoute) continue;
      const found = findInvalidText(request[part]);
      if (found) {
        const field = part === 'body' ? found.field : found.field || part;
        throw new AppError('invalid_text', `${field} ${found.problem}`, {
          field,
          in: part === 'query' ? 'querystring' : part,
        });
      }
    }
  });
}
