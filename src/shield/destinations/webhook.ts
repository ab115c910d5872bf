import { signatureHeaders, type EndpointAuth } from '../../webhooks/signature.js';
import type { DeliveryTarget } from '../../webhooks/targets.js';
import { SHIELD_USER_AGENT, alertBody, destinationFor, headerSafe, plainHttpRefused } from './plan-common.js';
import { destinationSigningSecrets } from './secret.js';

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
 * A Shield webhook destination: POSTs the published alert payload with the headers Shield receivers expect
 * (`User-Agent: SupportEscalationAutomation/1.0`, `Idempotency-Key: {automation}:{destination}:{record}` and the
 * configured auth header), and signs it like a company endpoint besides: `X-Escalatr-Signature` and the Standard
 * Webhooks headers over the exact body, with the destination's own secret. A receiver that knows nothing of
 * signatures works unchanged.
 */
export const webhookTarget: DeliveryTarget = {
  async plan(ctx, delivery, event, now) {
    const dest = await destinationFor(ctx, delivery, 'webhook');
    if ('kind' in dest) return dest;
    const refused = plainHttpRefused(ctx, dest.config.url);
    if (refused) return refused;
    const body = alertBody(event);
    const secrets = await destinationSigningSecrets(ctx, dest.row, now);
    return {
      kind: 'http',
      url: dest.config.url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': SHIELD_USER_AGENT,
        'Idempotency-Key': headerSafe(delivery.idempotency_key),
        'X-Escalatr-Event': event.name,
        ...signatureHeaders(event.id, Math.floor(now / 1000), body, secrets),
        ...authHeaders(dest.config.auth),
      },
      body,
      timeoutMs: dest.row.timeout_ms,
    };
  },
};
