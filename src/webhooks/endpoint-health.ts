import type { Logger } from 'pino';
import type { DomainContext, Work } from '../domain/context.js';
import type { WakeChannel } from '../queue/wakeup.js';
import type { Tx } from '../storage/db.js';
import { applyAttemptToEndpointHealth } from './endpoints.js';
import { announceDeadDeliveries, announceFailure, announceRecoveries } from './operational-events.js';
import type { AttemptResult, NextState } from '../queue/attempt.js';

/**
 * After each batch of results: per endpoint, a success clears its failing streak and a failure starts or continues
 * it (auto-disable on 410 Gone or after 5 days of nothing but failures). One statement per endpoint per batch, not
 * per delivery, and none at all for a healthy endpoint that was already healthy. In the same transaction the
 * operational events those changes make are written (operational-events.ts); the channels to wake once it commits
 * are returned.
 */
export function updateEndpointHealth(ctx: DomainContext, log?: Logger) {
  return async (
    tx: Tx,
    applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>,
  ): Promise<ReadonlySet<WakeChannel>> => {
    const work: Work = { tx, now: ctx.clock.now(), wakeAfterCommit: new Set() };
    const byEndpoint = new Map<string, { ok: boolean; gone: boolean; at: number }>();
    for (const { result } of applied) {
      const id = result.delivery.endpoint_id;
      if (!id || !result.outcome) continue;
      const prev = byEndpoint.get(id);
      // The latest outcome decides, except that a 410 anywhere in the batch is remembered.
      byEndpoint.set(id, {
        ok: result.outcome.ok,
        gone: (prev?.gone ?? false) || result.outcome.gone,
        at: result.finishedAt,
      });
    }
    // Healthy endpoints: one statement for all of them, which touches only those that were failing.
    const healthy = [...byEndpoint].filter(([, o]) => o.ok && !o.gone).map(([id]) => id);
    if (healthy.length) {
      await tx
        .updateTable('endpoints')
        .set({ failing_since: null })
        .where('id', 'in', healthy)
        .where('failing_since', 'is not', null)
        .execute();
      await announceRecoveries(ctx, work, healthy);
    }
    for (const [endpointId, o] of byEndpoint) {
      if (o.ok && !o.gone) continue;
      const disabled = await applyAttemptToEndpointHealth(ctx, tx, endpointId, { ok: false, gone: o.gone }, o.at);
      if (disabled) log?.warn({ endpoint_id: endpointId, reason: disabled }, 'webhook endpoint disabled automatically');
      await announceFailure(ctx, work, endpointId, disabled);
    }
    await announceDeadDeliveries(ctx, work, applied);
    return work.wakeAfterCommit;
  };
}
