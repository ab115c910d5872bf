import type { EndpointAuth } from '../../webhooks/signature.js';
import type { DeliveryTarget } from '../../webhooks/targets.js';
import { SHIELD_USER_AGENT, alertBody, destinationFor, headerSafe, plainHttpRefused } from './plan-common.js';

/** The header a destination's auth setting adds, as Shield receivers expect: none, Bearer, X-API-Key or a named one. */
export function authHeaders(auth: EndpointAuth | null | undefined): Record<string, string> {
  if (!auth || auth.type === 'none' || !auth.token) return {};
  switch (auth.type) {
    case 'bearer':
      return { Authorization: `Bearer ${auth.token}` };
    case 'api_key':
      return { 'X-API-Key': auth.token };
    case 'custom_header':
      return auth.header_name ? { [auth.header_name]: auth.token } : {};
  }
}

/**
 * A Shield webhook destination: POSTs the published alert payload with
 * `Idempotency-Key: {automation}:{destination}:{record}` and the configured auth header. Unsigned, as Shield receivers
 * expect; the credential authenticates us to the receiver.
 */
export const webhookTarget: DeliveryTarget = {
  async plan(ctx, delivery, event) {
    const dest = await destinationFor(ctx, delivery, 'webhook');
    if ('kind' in dest) return dest;
    const refused = plainHttpRefused(ctx, dest.config.url);
    if (refused) return refused;
    return {
      kind: 'http',
      url: dest.config.url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': SHIELD_USER_AGENT,
        'Idempotency-Key': headerSafe(delivery.idempotency_key),
        ...authHeaders(dest.config.auth),
      },
      body: alertBody(event),
      timeoutMs: dest.row.timeout_ms,
    };
  },
};
