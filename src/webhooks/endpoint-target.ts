import { buildDeliveryHeaders } from './signature.js';
import { endpointAuth, signingSecrets } from './endpoints.js';
import type { DeliveryPlan, DeliveryTarget } from './targets.js';

/**
 * Target 'endpoint': a company's own webhook endpoint. The plan is built fresh for every attempt, so a rotated
 * secret, an edited URL or auth, or a disable takes effect on the very next attempt. The body is the event's stored
 * bytes, unchanged, so every attempt and the event feed carry the same signature-verifiable bytes.
 */
export const endpointTarget: DeliveryTarget = {
  async plan(ctx, delivery, event, now): Promise<DeliveryPlan> {
    if (!delivery.endpoint_id) return { kind: 'skip', reason: 'delivery has no endpoint' };
    const endpoint = await ctx.store.db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', delivery.endpoint_id)
      .where('company_id', '=', delivery.company_id)
      .executeTakeFirst();
    if (!endpoint) return { kind: 'skip', reason: 'endpoint deleted' };
    if (endpoint.enabled !== 1) return { kind: 'skip', reason: `endpoint disabled${endpoint.disabled_reason ? ` (${endpoint.disabled_reason})` : ''}` };

    const headers = buildDeliveryHeaders({
      eventName: event.name,
      eventId: event.id,
      body: event.body,
      secrets: signingSecrets(ctx, endpoint, now),
      idempotencyKey: delivery.idempotency_key,
      timestampSec: Math.floor(now / 1000),
      auth: endpointAuth(ctx, endpoint),
    });
    return { kind: 'http', url: endpoint.url, headers, body: event.body, timeoutMs: endpoint.timeout_ms };
  },
};
