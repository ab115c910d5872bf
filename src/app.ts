import Fastify, { type FastifyBaseLogger } from 'fastify';
import cookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiApp } from './api/deps.js';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { DomainContext } from './domain/context.js';
import { SlaScheduler } from './domain/sla-scheduler.js';
import { frameworkErrorResponder, installErrorHandler } from './api/error-handler.js';
import { registerRoutes } from './api/routes.js';
import { SecretBox } from './security/secret-box.js';
import type { Store } from './storage/db.js';
import { ErrorResponse } from './api/schemas.js';
import { BODY_LIMIT_BYTES } from './api/body-limit.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Wakeups } from './queue/wakeup.js';
import { registerAnonymousLimit } from './api/anonymous-limit.js';
import { installTextGuard } from './api/text-guard.js';
import { verifyPassword, type PasswordVerifier } from './security/passwords.js';

export interface AppOptions {
  config: Config;
  store: Store;
  clock?: Clock;
  logger?: Logger | false;
  /** Checks a password against its stored hash; tests pass a wrapper to see that every sign-in runs it. */
  verifyPassword?: PasswordVerifier;
}

export interface App {
  http: ApiApp;
  ctx: DomainContext;
  scheduler: SlaScheduler;
  metrics: Metrics;
}

export { BODY_LIMIT_BYTES };

// Bodies are checked strictly (a string is never silently a number); query strings arrive as text and are coerced.
function makeValidators() {
  const strict = new Ajv({
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  const coercing = new Ajv({
    coerceTypes: 'array',
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats.default(strict);
  addFormats.default(coercing);
  return { strict, coercing };
}

export async function buildApp(opts: AppOptions): Promise<App> {
  const clock = opts.clock ?? systemClock;
  const ctx: DomainContext = {
    store: opts.store,
    clock,
    box: new SecretBox(opts.config.masterKey),
    config: opts.config,
    wakeups: new Wakeups(opts.store, opts.logger || undefined),
  };
  const loggerInstance: FastifyBaseLogger | undefined = opts.logger || undefined;
  const http = Fastify({
    loggerInstance,
    logger: opts.logger === false ? false : undefined,
    bodyLimit: BODY_LIMIT_BYTES,
    // The longest id a path carries is a feedback record's (its source's id, up to 200 characters): the router's
    // default bound of 100 would answer 404 before the route could serve it. Longer parameters are still refused here.
    routerOptions: { maxParamLength: 200 },
    trustProxy: false,
    ajv: undefined,
    frameworkErrors: frameworkErrorResponder,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const { strict, coercing } = makeValidators();
  http.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
  http.addSchema(ErrorResponse);
  await http.register(cookie);
  installErrorHandler(http, opts.store.profile);
  registerAnonymousLimit(http, clock, opts.config.anonRateLimitPerMin);
  installTextGuard(http);
  const scheduler = new SlaScheduler(ctx, opts.logger || undefined);
  const metrics = createMetrics();
  await registerRoutes(http, {
    ctx,
    config: opts.config,
    metrics,
    verifyPassword: opts.verifyPassword ?? verifyPassword,
  });
  return { http, ctx, scheduler, metrics };
}
