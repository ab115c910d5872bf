import { AppError } from '../errors.js';
import { compileJsonata, jsonataMessage, resultBytes, TransformFailure, type EventBody } from './transform-jsonata.js';
import { transformRunner } from './transform-runner.js';

/**
 * An endpoint's transformation: the body it receives is reshaped from the event's stored body, either by a
 * built-in preset or by the tenant's JSONata expression. JSONata has no I/O; each evaluation runs in a process of its
 * own, bounded in time, memory, nesting depth and output size (transform-jsonata.ts, transform-runner.ts), and the
 * clock functions answer the event's own time, so every attempt of a delivery sends the same bytes (and the
 * signature covers exactly those bytes).
 */
export type EndpointTransform = { preset: PresetName } | { jsonata: string };

export const TRANSFORM_MAX_CHARS = 10_000;

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

/** Why the transformation cannot run: the tenant's own expression, so its message is theirs to see. */
export class TransformError extends Error {}

/**
 * The bytes to send for this event, or null when the transformation produces nothing for it (the delivery ends
 * without an attempt). Throws TransformError when the expression fails on this event. `company` is whose turn it
 * counts against when expressions wait for a transformation process (transform-runner.ts).
 */
export async function transformBody(
  company: string,
  transform: EndpointTransform,
  storedBody: string,
): Promise<string | null> {
  if ('preset' in transform) {
    try {
      return resultBytes(PRESETS[transform.preset].run(JSON.parse(storedBody) as EventBody));
    } catch (err) {
      if (err instanceof TransformFailure) throw new TransformError(err.message);
      throw err;
    }
  }
  const outcome = await transformRunner().run(company, transform.jsonata, storedBody);
  if ('failure' in outcome) throw new TransformError(outcome.failure);
  return outcome.bytes;
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
      compileJsonata(v.jsonata);
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
