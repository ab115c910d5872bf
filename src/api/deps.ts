import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Config } from '../config.js';
import type { DomainContext } from '../domain/context.js';
import type { Metrics } from '../metrics.js';
import type { PasswordVerifier } from '../security/passwords.js';
import type { StoreAvailability } from '../storage/availability.js';
import type { ReadStore } from '../storage/read-store.js';

/** What every part of the HTTP API is built from. */
export interface RouteDeps {
  ctx: DomainContext;
  config: Config;
  metrics?: Metrics;
  /** Whether the store answers: /readyz reads it, and store failures met while serving report to it. */
  readiness: StoreAvailability;
  /** Where the API's reads of lists, details and the feed go: the primary or the read replica. */
  reads: ReadStore;
  /** The password check sign-in uses (the scrypt one unless a test wraps it). */
  verifyPassword?: PasswordVerifier;
}

/**
 * The Fastify instance the routes are registered on: with the TypeBox type provider, so each handler's body, params
 * and query are typed from the route's schemas, and its answer is checked against the response schemas.
 */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The error answers a route gives beyond those its credentials, parameters and body imply (which the OpenAPI
     * document adds itself): status → the codes and when. Documentation only; errors are still answered by the
     * one error handler.
     */
    errors?: Partial<Record<400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429, string>>;
  }
}
