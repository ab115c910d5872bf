import Fastify, { type FastifyBaseLogger, type FastifyPluginCallback } from 'fastify';
import cookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import { clientErrorResponder, frameworkErrorResponder, installErrorHandler } from './api/error-handler.js';
import { registerRoutes } from './api/routes.js';
import type { ApiApp, RouteDeps } from './api/deps.js';
import { ErrorResponse } from './api/schemas.js';
import { BODY_LIMIT_BYTES } from './api/body-limit.js';
import { registerAnonymousLimit } from './api/anonymous-limit.js';
import { installTextGuard } from './api/text-guard.js';
import { verifyPassword } from './security/passwords.js';

/** What the HTTP app serves from: the process's runtime (src/runtime/runtime.ts) passes its own parts. */
export interface HttpAppOptions extends RouteDeps {
  logger?: Logger | false;
  /** The request instrumentation of a started OpenTelemetry SDK (runtime/telemetry.ts); absent while tracing is off. */
  tracing?: FastifyPluginCallback;
}

export { BODY_LIMIT_BYTES };

/** How long a client has to send a whole request, headers and body (the largest, a Shield batch, is 24 MB). */
const REQUEST_TIMEOUT_MS = 120_000;

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

/**
 * The HTTP app: routes, validation and error answers, nothing else. It neither opens the store nor starts
 * background work; a process that serves no HTTP never builds it.
 */
export async function buildHttpApp(opts: HttpAppOptions): Promise<ApiApp> {
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
    clientErrorHandler: clientErrorResponder,
    // A request (headers and body) must arrive within this: a client trickling a body, or a connection that never
    // sends one, is answered 408 and closed instead of holding its socket and buffer for ever.
    requestTimeout: REQUEST_TIMEOUT_MS,
  }).withTypeProvider<TypeBoxTypeProvider>();
  http.server.maxConnections = opts.config.maxConnections;
  const { strict, coercing } = makeValidators();
  http.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
  http.addSchema(ErrorResponse);
  // First, so every route and hook registered after it runs inside its request's span.
  if (opts.tracing) await http.register(opts.tracing);
  await http.register(cookie);
  const { ctx, config, metrics, readiness, reads } = opts;
  // Keys verified from memory are dropped whenever a key is revoked or a plan changed: through this process, once
  // the change commits; by any other process, once this one hears of that commit (queue/wakeup.ts).
  const credentials = ctx.wakeups.subscribe('credentials', () => ctx.apiKeys.forgetAll());
  http.addHook('onClose', async () => credentials.close());
  installErrorHandler(http, ctx.store.profile, readiness);
  registerAnonymousLimit(http, ctx.clock, config.anonRateLimitPerMin);
  installTextGuard(http);
  await registerRoutes(http, {
    ctx,
    config,
    metrics,
    readiness,
    reads,
    verifyPassword: opts.verifyPassword ?? verifyPassword,
  });
  return http;
}
