import { buildDeliveryHeaders } from './signature.js';
import { endpointAuth, signingSecrets } from './endpoints.js';
import type { DeliveryPlan, DeliveryTarget } from './targets.js';
import type { DomainContext } from '../domain/context.js';
import type { EndpointRow } from './endpoints.js';

// The worker starts every attempt of a claimed batch in the same tick, and each asks for its endpoint's row. Those
// requests are gathered and answered by one query per batch (`id in (…)`) instead of one pool round trip each. The
// read still happens after the claim, for this attempt: an edit, a rotated secret or a disable applies from the
// very next attempt, exactly as with a read of its own.
interface EndpointRequest {
  companyId: string;
  endpointId: string;
  resolve: (row: EndpointRow | undefined) => void;
  reject: (err: unknown) => void;
}
const gathering = new WeakMap<object, EndpointRequest[]>();

function readEndpoint(ctx: DomainContext, companyId: string, endpointId: string): Promise<EndpointRow | undefined> {
  return new Promise((resolve, reject) => {
    const db = ctx.store.db;
    let batch = gathering.get(db);
    if (!batch) {
      const requests: EndpointRequest[] = (batch = []);
      gathering.set(db, requests);
      queueMicrotask(() => {
        gathering.delete(db);
        void answer(ctx, requests);
      });
    }
    batch.push({ companyId, endpointId, resolve, reject });
  });
}

async function answer(ctx: DomainContext, requests: EndpointRequest[]): Promise<void> {
  try {
    const ids = [...new Set(requests.map((r) => r.endpointId))];
    const rows = await ctx.store.db.selectFrom('endpoints').selectAll().where('id', 'in', ids).execute();
    const byId = new Map(rows.map((row) => [row.id, row]));
    // Another company's endpoint id answers exactly like a missing one.
    for (const r of requests) {
      const row = byId.get(r.endpointId);
      r.resolve(row && row.company_id === r.companyId ? row : undefined);
    }
  } catch (err) {
    for (const r of requests) r.reject(err);
  }
}

/**
 * Target 'endpoint': a company's own webhook endpoint. The plan is built fresh for every attempt, so a rotated
 * secret, an edited URL or auth, or a disable takes effect on the very next attempt. The body is the event's stored
 * bytes, unchanged, so every attempt and the event feed carry the same signature-verifiable bytes.
 */
export const endpointTarget: DeliveryTarget = {
  async plan(ctx, delivery, event, now): Promise<DeliveryPlan> {
    if (!delivery.endpoint_id) return { kind: 'skip', reason: 'delivery has no endpoint' };
    const endpoint = await readEndpoint(ctx, delivery.company_id, delivery.endpoint_id);
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
