import { Agent, request } from 'undici';
import { buildDeliveryHeaders, newWebhookSecret } from '../../src/webhooks/signature.js';
import { newId } from '../../src/ids.js';

/**
 * What a hand-built sender does for one message, shared by the raw-limit sender and the peers so that every
 * system does the same work per delivery: the product's own signing (both signature schemes, from
 * src/webhooks/signature.ts), an undici POST over a keep-alive pool, the response read, non-2xx thrown.
 */

export const SECRET = newWebhookSecret();

/** A body of the exact shape and size the domain writes for `complaint.created`. */
export function eventBody(n: number): { id: string; body: string } {
  const id = newId('evt');
  const body = JSON.stringify({
    id,
    event: 'complaint.created',
    timestamp: new Date().toISOString(),
    data: {
      escalatr_id: `ESC-BNCH-260101-${String(n % 100_000).padStart(5, '0')}`,
      status: 'Open',
      escalation_level: 'L1',
      complaint_category: 'Billing',
      priority: 'medium',
    },
  });
  return { id, body };
}

export interface Message {
  eventId: string;
  body: string;
  url: string;
  /** Stable per event and endpoint, as the product's Idempotency-Key. */
  key: string;
}

export function newAgent(): Agent {
  return new Agent({ keepAliveTimeout: 60_000 });
}

export async function deliver(agent: Agent, m: Message): Promise<void> {
  const headers = buildDeliveryHeaders({
    eventName: 'complaint.created',
    eventId: m.eventId,
    body: m.body,
    secrets: [SECRET],
    idempotencyKey: m.key,
    timestampSec: Math.floor(Date.now() / 1000),
  });
  const res = await request(m.url, {
    method: 'POST',
    headers,
    body: m.body,
    dispatcher: agent,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await res.body.text();
  if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
}

/** `fanout` messages per event, one per endpoint path, as the product fans an event out to its endpoints. */
export function messages(baseUrl: string, events: number, fanout: number, offset = 0): Message[] {
  const out: Message[] = [];
  for (let e = 0; e < events; e++) {
    const { id, body } = eventBody(offset + e);
    for (let i = 0; i < fanout; i++) out.push({ eventId: id, body, url: `${baseUrl}/ep/${i}`, key: `${id}:ep${i}` });
  }
  return out;
}
