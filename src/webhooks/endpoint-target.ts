import { attemptErrorMessage } from '../queue/attempt.js';
import { buildDeliveryHeaders } from './signature.js';
import { storedTransform, transformBody, TransformError } from './transform.js';
import { brokerPassword, endpointAuth, endpointRetryScheduleMs } from './endpoints.js';
import { openSigningSecrets } from './secret-rotation.js';
import { isBrokerUrl } from './brokers/destination.js';
import { brokerMessageHeaders } from './brokers/connection.js';
import type { DeliveryRow } from '../queue/delivery.js';
import type { DeliveryPlan, DeliveryTarget, PreparedBatch } from './targets.js';
import type { DomainContext } from '../domain/context.js';
import type { EndpointRow } from './endpoints.js';

/**
 * The endpoints of one claimed batch, read in one query right after the claim (not one read per attempt, which on
 * PostgreSQL was a pool round trip each). A batch lives for milliseconds: an edit, a rotated secret or a disable
 * applies from the next claim on. Secrets are opened per attempt; SecretBox keeps what it opened.
 */
class EndpointBatch {
  constructor(private readonly rows: ReadonlyMap<string, EndpointRow>) {}

  /** Another company's endpoint id answers exactly like a missing one. */
  endpoint(companyId: string, endpointId: string): EndpointRow | undefined {
    const row = this.rows.get(endpointId);
    return row && row.company_id === companyId ? row : undefined;
  }
}

async function readEndpoints(
  ctx: DomainContext,
  deliveries: readonly Pick<DeliveryRow, 'endpoint_id'>[],
): Promise<EndpointBatch> {
  const ids = [...new Set(deliveries.map((d) => d.endpoint_id).filter((id): id is string => id !== null))];
  const rows = ids.length
    ? await ctx.store.db.selectFrom('endpoints').selectAll().where('id', 'in', ids).execute()
    : [];
  return new EndpointBatch(new Map(rows.map((row) => [row.id, row])));
}

/** A failed attempt that sent nothing: the tenant's expression failed on this event (retried like any failure). */
function transformFailed(message: string, retryScheduleMs: readonly number[] | undefined): DeliveryPlan {
  return {
    kind: 'custom',
    timeoutMs: 1000,
    ...(retryScheduleMs === undefined ? {} : { retryScheduleMs }),
    send: async () => ({
      ok: false,
      statusCode: null,
      durationMs: 0,
      errorKind: 'transform_failed',
      errorMessage: attemptErrorMessage('transform_failed', { transformError: message }),
      responseExcerpt: null,
      retryAfterMs: null,
      gone: false,
    }),
  };
}

/**
 * Target 'endpoint': a company's own webhook endpoint. The body is the event's stored bytes — or, with a
 * transformation, the bytes it makes of them, the same on every attempt — and the signatures cover exactly what is
 * sent; the signature's timestamp is the attempt's.
 */
export const endpointTarget: DeliveryTarget = {
  prepare: readEndpoints,

  async plan(ctx, delivery, event, now, prepared?: PreparedBatch): Promise<DeliveryPlan> {
    if (!delivery.endpoint_id) return { kind: 'skip', reason: 'delivery has no endpoint' };
    const batch = prepared instanceof EndpointBatch ? prepared : await readEndpoints(ctx, [delivery]);
    const endpoint = batch.endpoint(delivery.company_id, delivery.endpoint_id);
    if (!endpoint) return { kind: 'skip', reason: 'endpoint deleted' };
    if (endpoint.enabled !== 1)
      return {
        kind: 'skip',
        reason: `endpoint disabled${endpoint.disabled_reason ? ` (${endpoint.disabled_reason})` : ''}`,
      };

    const retryScheduleMs = endpointRetryScheduleMs(endpoint);
    let body = event.body;
    if (endpoint.transform !== null) {
      try {
        const transformed = await transformBody(endpoint.company_id, storedTransform(endpoint.transform)!, event.body);
        if (transformed === null) return { kind: 'skip', reason: 'the transformation produces nothing for this event' };
        body = transformed;
      } catch (err) {
        if (!(err instanceof TransformError)) throw err;
        return transformFailed(err.message, retryScheduleMs);
      }
    }

    const broker = isBrokerUrl(endpoint.url);
    const headers = buildDeliveryHeaders({
      eventName: event.name,
      eventId: event.id,
      body,
      secrets: openSigningSecrets(ctx.box, endpoint, now),
      idempotencyKey: delivery.idempotency_key,
      timestampSec: Math.floor(now / 1000),
      auth: broker ? { type: 'none' } : endpointAuth(ctx, endpoint),
    });
    const schedule = retryScheduleMs === undefined ? {} : { retryScheduleMs };
    if (broker)
      return {
        kind: 'broker',
        url: endpoint.url,
        password: brokerPassword(ctx, endpoint),
        headers: brokerMessageHeaders(headers),
        body,
        messageId: event.id,
        timeoutMs: endpoint.timeout_ms,
        ...schedule,
      };
    return { kind: 'http', url: endpoint.url, headers, body, timeoutMs: endpoint.timeout_ms, ...schedule };
  },
};
