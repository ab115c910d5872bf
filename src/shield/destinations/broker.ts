import { brokerMessageHeaders } from '../../webhooks/brokers/connection.js';
import { signatureHeaders } from '../../webhooks/signature.js';
import type { DeliveryTarget } from '../../webhooks/targets.js';
import { alertBody, destinationFor, headerSafe } from './plan-common.js';
import { destinationSigningSecrets } from './secret.js';

/**
 * A Shield broker destination (amqp(s)://, nats://, tls://, redis(s)://, mqtt(s)://): publishes the same alert body
 * a webhook destination POSTs, with the same idempotency key, event name and signatures as message headers, through
 * the worker's pooled broker connections — as a broker endpoint does. The idempotency key is also the message id, so a
 * broker that deduplicates (JetStream) stores a retried alert once, and two destinations of one alert stay apart.
 */
export const brokerTarget: DeliveryTarget = {
  async plan(ctx, delivery, event, now) {
    const dest = await destinationFor(ctx, delivery, 'broker');
    if ('kind' in dest) return dest;
    const body = alertBody(event);
    const secrets = await destinationSigningSecrets(ctx, dest.row, now);
    const idempotencyKey = headerSafe(delivery.idempotency_key);
    return {
      kind: 'broker',
      url: dest.config.url,
      password: dest.config.password,
      headers: brokerMessageHeaders({
        'Idempotency-Key': idempotencyKey,
        'X-Escalatr-Event': event.name,
        ...signatureHeaders(event.id, Math.floor(now / 1000), body, secrets),
      }),
      body,
      messageId: idempotencyKey,
      timeoutMs: dest.row.timeout_ms,
    };
  },
};
