import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildHttpApp } from '../app.js';
import type { PasswordVerifier } from '../security/passwords.js';
import type { Telemetry } from './telemetry.js';
import { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

export interface AppOptions extends Omit<RuntimeOptions, 'logger'> {
  /** false: no request logging at all (tests). */
  logger?: Logger | false;
  /** Checks a password against its stored hash; tests pass a wrapper to see that every sign-in runs it. */
  verifyPassword?: PasswordVerifier;
  /** A started OpenTelemetry SDK whose request spans the app makes (runtime/telemetry.ts). */
  tracing?: Telemetry;
}

/** A runtime with its HTTP app: what an API process serves, and what the tests drive with `http.inject()`. */
export interface App extends Runtime {
  http: FastifyInstance;
}

export async function buildApp(opts: AppOptions): Promise<App> {
  const { verifyPassword, tracing, ...runtimeOpts } = opts;
  const runtime = createRuntime({ ...runtimeOpts, logger: opts.logger || undefined });
  const http = await buildHttpApp({
    ...runtime,
    logger: opts.logger,
    verifyPassword,
    tracing: tracing?.fastifyPlugin,
  });
  return { ...runtime, http };
}
