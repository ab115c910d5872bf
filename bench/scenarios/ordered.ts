import { join } from 'node:path';
import { endpointUrls, type BenchContext, type ScenarioResult } from '../lib/context.js';
import { COMPANIES } from './delivery.js';

/**
 * Ordered delivery's cost: the same backlog — complaints with several events each — drained once to endpoints
 * without ordering and once to endpoints ordered per complaint, each in a fresh SQLite store and worker process,
 * in the same run so the two figures compare. Ordered, a complaint's next event to an endpoint waits until the
 * previous one is recorded, so the figure depends on how many complaints are in flight at once.
 */
const FOLLOW_UPS = 3;

async function drainBacklog(ctx: BenchContext, ordering: 'none' | 'per_complaint') {
  const { plan } = ctx;
  const sut = await ctx.child('processes/escalatr', `ordered-${ordering}`);
  await sut.call('open', {
    store: { kind: 'sqlite', file: join(ctx.tempDir(), 'bench.db') },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
  });
  await sut.call('seed', {
    code: 'ORDR',
    companies: COMPANIES,
    endpoints: endpointUrls(ctx.receiverUrl, plan.fanout),
    ordering,
  });
  const once = async (complaints: number) => {
    await sut.call('commitThreads', { complaints, followUps: FOLLOW_UPS });
    await ctx.receiver.call('reset');
    const total = complaints * (1 + FOLLOW_UPS) * plan.fanout;
    const t0 = await sut.call<number>('workerStart');
    await ctx.receiver.call('waitFor', { count: total });
    const settled = await sut.call<number>('waitSettled', {});
    await sut.call('workerStop');
    return { total, ms: settled - t0 };
  };
  await once(Math.max(4, Math.round(plan.warmupEvents / (1 + FOLLOW_UPS))));
  const complaints = Math.max(4, Math.round(plan.events / (1 + FOLLOW_UPS)));
  const r = await once(complaints);
  return { perSecond: (r.total / r.ms) * 1000, deliveries: r.total, complaints, drainMs: Math.round(r.ms) };
}

export async function ordered(ctx: BenchContext): Promise<ScenarioResult> {
  const unordered = await drainBacklog(ctx, 'none');
  const inOrder = await drainBacklog(ctx, 'per_complaint');
  ctx.log(
    `ordered: ${Math.round(inOrder.perSecond)} deliveries/s ordered per complaint, ${Math.round(unordered.perSecond)} unordered ` +
      `(${inOrder.complaints} complaints × ${1 + FOLLOW_UPS} events × ${ctx.plan.fanout} endpoints, SQLite, one process)`,
  );
  return {
    values: {
      ordered_deliveries_per_s: inOrder.perSecond,
      ordered_unordered_deliveries_per_s: unordered.perSecond,
    },
    details: {
      events_per_complaint: 1 + FOLLOW_UPS,
      fanout: ctx.plan.fanout,
      ordered: inOrder,
      unordered,
    },
  };
}
