import jsonata from 'jsonata';
import { AppError } from '../errors.js';

/**
 * An endpoint's transformation: the body it receives is reshaped from the event's stored body, either by a
 * built-in preset or by the tenant's JSONata expression. JSONata has no I/O; each evaluation is bounded in time,
 * nesting depth and output size, and the clock functions answer the event's own time, so every attempt of a
 * delivery sends the same bytes (and the signature covers exactly those bytes).
 */
export type EndpointTransform = { preset: PresetName } | { jsonata: string };

export const TRANSFORM_MAX_CHARS = 10_000;
const TRANSFORM_MAX_OUTPUT_BYTES = 256 * 1024;
const TRANSFORM_TIME_LIMIT_MS = 50;
const TRANSFORM_MAX_DEPTH = 100;
const COMPILED_CACHE_SIZE = 500;

/** An event body as stored: what a transformation reads. */
interface EventBody {
  id: string;
  event: string;
  timestamp: string;
  data: Record<string, unknown>;
}

const QLAR_EVENT_TYPES: Record<string, string> = {
  'complaint.created': 'created',
  'complaint.claimed': 'claimed',
  'complaint.completed': 'completed',
  'complaint.released': 'released',
};

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * `qlar`: the lifecycle payload of the escalation webhook guide (README, "Transformations"), so a receiver written
 * from that guide works unchanged. A Test press arrives with `eventType: "test"`, which such a receiver logs and
 * skips as an unknown event type.
 */
function qlar(body: EventBody): unknown {
  const d = body.data;
  const eventType = body.event === 'webhook.test' ? 'test' : QLAR_EVENT_TYPES[body.event];
  if (!eventType) return undefined;
  return {
    eventType,
    timestamp: body.timestamp,
    agentId: str(d.claimed_by) ?? str(d.released_by) ?? str(d.completed_by),
    escalation: {
      id: str(d.escalatr_id),
      threadId: str(d.escalatr_id),
      status: str(d.status),
      urgencyLevel: str(d.priority),
      topic: str(d.complaint_category),
      area: null,
      reason: str(d.resolution_notes) ?? str(d.title),
      triggerCondition: str(d.escalation_level) ? `Escalation level ${d.escalation_level}` : null,
    },
  };
}

const PRESETS = {
  qlar: { run: qlar, events: Object.keys(QLAR_EVENT_TYPES) },
} as const;
type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

const compiled = new Map<string, jsonata.Expression>();

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
  if (limits.depth > TRANSFORM_MAX_DEPTH) throw new TransformError(`nesting deeper than ${TRANSFORM_MAX_DEPTH} levels`);
  if (Date.now() - limits.started > TRANSFORM_TIME_LIMIT_MS)
    throw new TransformError(`ran longer than ${TRANSFORM_TIME_LIMIT_MS} ms`);
}

function compile(expression: string): jsonata.Expression {
  let expr = compiled.get(expression);
  if (expr) {
    // Most recently used last: the cache forgets the least recently used expression first.
    compiled.delete(expression);
    compiled.set(expression, expr);
    return expr;
  }
  expr = jsonata(expression);
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

/** Why the transformation cannot run: the tenant's own expression, so its message is theirs to see. */
export class TransformError extends Error {}

function jsonataMessage(err: unknown): string {
  const e = err as { message?: string; position?: number; code?: string };
  const where = typeof e.position === 'number' ? ` (at character ${e.position})` : '';
  return `${(e.message ?? String(err)).slice(0, 300)}${where}`;
}

async function evaluateBounded(expression: string, body: EventBody): Promise<unknown> {
  const expr = compile(expression);
  const eventMs = Date.parse(body.timestamp);
  // Bindings shadow the built-ins: the event's own time instead of the clock, and no randomness, so a retry sends
  // the bytes the first attempt sent.
  const bindings = {
    now: () => body.timestamp,
    millis: () => eventMs,
    random: () => {
      throw new TransformError('$random is not available: every attempt must send the same body');
    },
    [LIMITS]: { started: Date.now(), depth: 0 } satisfies Limits,
  };
  try {
    return await expr.evaluate(body, bindings);
  } catch (err) {
    if (err instanceof TransformError) throw err;
    throw new TransformError(jsonataMessage(err));
  }
}

/**
 * The bytes to send for this event, or null when the transformation produces nothing for it (the delivery ends
 * without an attempt). Throws TransformError when the expression fails on this event.
 */
export async function transformBody(transform: EndpointTransform, storedBody: string): Promise<string | null> {
  const body = JSON.parse(storedBody) as EventBody;
  const result =
    'preset' in transform ? PRESETS[transform.preset].run(body) : await evaluateBounded(transform.jsonata, body);
  if (result === undefined) return null;
  const bytes = JSON.stringify(result);
  if (bytes === undefined) return null; // a function or similar: nothing JSON can carry
  if (Buffer.byteLength(bytes) > TRANSFORM_MAX_OUTPUT_BYTES)
    throw new TransformError(`the result is larger than ${TRANSFORM_MAX_OUTPUT_BYTES} bytes`);
  return bytes;
}

/**
 * Checks a transformation when an endpoint is saved and returns it as stored: a known preset whose events the
 * endpoint's subscription stays within, or a JSONata expression that compiles.
 */
export function validateTransform(value: unknown, events: readonly string[]): EndpointTransform {
  const invalid = (message: string) => new AppError('invalid_transform', message, { field: 'transform' });
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('transform must be {"preset": "…"} or {"jsonata": "…"}, or null for none');
  const keys = Object.keys(value);
  if (keys.length !== 1) throw invalid('transform must have exactly one of "preset" or "jsonata"');
  const v = value as Record<string, unknown>;
  if ('preset' in v) {
    if (!PRESET_NAMES.includes(v.preset as PresetName))
      throw invalid(`transform.preset must be one of ${PRESET_NAMES.join(', ')}`);
    const preset = PRESETS[v.preset as PresetName];
    const outside = events.filter((e) => !(preset.events as readonly string[]).includes(e));
    if (outside.length)
      throw invalid(
        `the ${String(v.preset)} preset covers ${preset.events.join(', ')}; subscribe to those only (not ${outside.join(', ')})`,
      );
    return { preset: v.preset as PresetName };
  }
  if ('jsonata' in v) {
    if (typeof v.jsonata !== 'string' || v.jsonata.trim() === '')
      throw invalid('transform.jsonata must be an expression');
    if (v.jsonata.length > TRANSFORM_MAX_CHARS)
      throw invalid(`transform.jsonata must be at most ${TRANSFORM_MAX_CHARS} characters`);
    try {
      compile(v.jsonata);
    } catch (err) {
      throw invalid(`transform.jsonata does not compile: ${jsonataMessage(err)}`);
    }
    return { jsonata: v.jsonata };
  }
  throw invalid('transform must have exactly one of "preset" or "jsonata"');
}

/** A stored transformation (endpoints.transform), or null. */
export function storedTransform(text: string | null): EndpointTransform | null {
  return text === null ? null : (JSON.parse(text) as EndpointTransform);
}
