import { createRequire } from 'node:module';
import type jsonata from 'jsonata';

/**
 * A tenant's JSONata transformation evaluated on an event body. This runs in a transformation process
 * (transform-runner.ts), never in the serving one: a single built-in call (a huge `$pad`, a regular expression that
 * backtracks for minutes) cannot be interrupted from inside, so only a process that can be stopped from outside keeps
 * one company's expression from stalling every other's requests and deliveries. Within it each evaluation is still
 * bounded in time and nesting depth, step by step, so an ordinary runaway expression ends with a clear reason.
 */

const TRANSFORM_MAX_OUTPUT_BYTES = 256 * 1024;
/** What one evaluation may take, checked between its steps; the process's hard limit is above it. */
const TRANSFORM_TIME_LIMIT_MS = 50;
const TRANSFORM_MAX_DEPTH = 100;
const COMPILED_CACHE_SIZE = 500;

/** An event body as stored: what a transformation reads. */
export interface EventBody {
  id: string;
  event: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** Why a transformation produced no body: the tenant's own expression, so its message is theirs to see. */
export class TransformFailure extends Error {}

/** What a transformation process answers: the bytes to send (null: nothing for this event), or why it failed. */
export type JsonataOutcome = { bytes: string | null } | { failure: string };

const compiled = new Map<string, jsonata.Expression>();

/**
 * JSONata, loaded on the first expression compiled: evaluations run in transformation processes, and the serving
 * process compiles only to check an expression a tenant saves or previews, which most processes never do. Loading it
 * costs about 1 MB of heap for the process's life.
 */
let jsonataModule: typeof jsonata | undefined;
const loadJsonata = (): typeof jsonata =>
  (jsonataModule ??= createRequire(import.meta.url)('jsonata') as typeof jsonata);

/** One evaluation's bounds, reached from JSONata's evaluation hooks through a binding of that evaluation. */
interface Limits {
  started: number;
  depth: number;
}
const LIMITS = '__escalatr_limits';

function limitsOf(env: { isParallelCall?: boolean; lookup(name: string): unknown }): Limits | null {
  return env.isParallelCall ? null : ((env.lookup(LIMITS) as Limits | undefined) ?? null);
}

function enforce(limits: Limits): void {
  if (limits.depth > TRANSFORM_MAX_DEPTH)
    throw new TransformFailure(`nesting deeper than ${TRANSFORM_MAX_DEPTH} levels`);
  if (Date.now() - limits.started > TRANSFORM_TIME_LIMIT_MS)
    throw new TransformFailure(`ran longer than ${TRANSFORM_TIME_LIMIT_MS} ms`);
}

/** Compiles an expression (throws JSONata's own error when it does not), with the step hooks, most recent cached. */
export function compileJsonata(expression: string): jsonata.Expression {
  let expr = compiled.get(expression);
  if (expr) {
    // Most recently used last: the cache forgets the least recently used expression first.
    compiled.delete(expression);
    compiled.set(expression, expr);
    return expr;
  }
  expr = loadJsonata()(expression);
  // JSONata calls these around every step it evaluates: how a runaway expression (unbounded recursion) is stopped.
  const assign = expr.assign.bind(expr) as unknown as (name: symbol, value: unknown) => void;
  type Env = Parameters<typeof limitsOf>[0];
  assign(Symbol.for('jsonata.__evaluate_entry'), (_e: unknown, _i: unknown, env: Env) => {
    const limits = limitsOf(env);
    if (!limits) return;
    limits.depth++;
    enforce(limits);
  });
  assign(Symbol.for('jsonata.__evaluate_exit'), (_e: unknown, _i: unknown, env: Env) => {
    const limits = limitsOf(env);
    if (!limits) return;
    limits.depth--;
    enforce(limits);
  });
  compiled.set(expression, expr);
  if (compiled.size > COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  return expr;
}

export function jsonataMessage(err: unknown): string {
  const e = err as { message?: string; position?: number; code?: string };
  const where = typeof e.position === 'number' ? ` (at character ${e.position})` : '';
  return `${(e.message ?? String(err)).slice(0, 300)}${where}`;
}

/** A transformation's result as the bytes to send, or null when it gave nothing JSON can carry. */
export function resultBytes(result: unknown): string | null {
  if (result === undefined) return null;
  const bytes = JSON.stringify(result);
  if (bytes === undefined) return null; // a function or similar
  if (Buffer.byteLength(bytes) > TRANSFORM_MAX_OUTPUT_BYTES)
    throw new TransformFailure(`the result is larger than ${TRANSFORM_MAX_OUTPUT_BYTES} bytes`);
  return bytes;
}

/**
 * Evaluates `expression` on a stored event body. Bindings shadow the built-ins: the event's own time instead of the
 * clock, and no randomness, so a retry sends the bytes the first attempt sent (and the signature covers them).
 */
export async function runJsonata(expression: string, storedBody: string): Promise<JsonataOutcome> {
  try {
    const body = JSON.parse(storedBody) as EventBody;
    const expr = compileJsonata(expression);
    const eventMs = Date.parse(body.timestamp);
    const bindings = {
      now: () => body.timestamp,
      millis: () => eventMs,
      random: () => {
        throw new TransformFailure('$random is not available: every attempt must send the same body');
      },
      [LIMITS]: { started: Date.now(), depth: 0 } satisfies Limits,
    };
    return { bytes: resultBytes(await expr.evaluate(body, bindings)) };
  } catch (err) {
    return { failure: err instanceof TransformFailure ? err.message : jsonataMessage(err) };
  }
}
