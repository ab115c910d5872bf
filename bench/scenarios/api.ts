import { join } from 'node:path';
import autocannon from 'autocannon';
import { endpointUrls, type BenchContext, type ScenarioResult } from '../lib/context.js';

/**
 * 6. The read API under load, on the real server (buildApp + listen on 127.0.0.1, an admin API key, the rate limiter
 * in the path at its highest setting): GET /api/v1/complaints and GET /api/v1/events, first page, default limit,
 * with autocannon at 10 connections. The store grows between rounds (complaints and events, bulk-written with the
 * domain's row shapes), so the same process shows whether a page costs the same at 10k rows as at 1M.
 */

const ROUTES = { list: '/api/v1/complaints', feed: '/api/v1/events' } as const;

export async function api(ctx: BenchContext): Promise<ScenarioResult> {
  const { plan } = ctx;
  const sut = await ctx.child('processes/escalatr', 'api');
  await sut.call('open', {
    store: { kind: 'sqlite', file: join(ctx.tempDir(), 'api.db') },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
  });
  const seeded = await sut.call<{ endpointIds: string[] }>('seed', {
    code: 'VOLT',
    endpoints: endpointUrls(ctx.receiverUrl, 1),
  });
  const key = await sut.call<string>('apiKey');
  const { port } = await sut.call<{ port: number }>('listen');
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${key}` };

  const bySize: Array<Record<string, number>> = [];
  const sqlTiming: Record<string, unknown> = {};
  for (const size of plan.apiSizes) {
    const seed = await sut.call<{ added: number; ms: number }>('bulkSeed', {
      total: size,
      endpointId: seeded.endpointIds[0],
    });
    ctx.log(
      `api: seeded to ${size.toLocaleString('en')} complaints and events (+${seed.added.toLocaleString('en')} in ${(seed.ms / 1000).toFixed(1)} s)`,
    );
    const row: Record<string, number> = { rows: size, seed_ms: Math.round(seed.ms) };
    for (const [name, path] of Object.entries(ROUTES)) {
      await autocannon({ url: base + path, headers, connections: plan.apiConnections, duration: 1 }); // warm-up
      await sut.call('sqlTiming', { reset: true });
      if (ctx.profileDir) await sut.call('profilePhase', { start: true });
      const r = await autocannon({
        url: base + path,
        headers,
        connections: plan.apiConnections,
        duration: plan.apiSeconds,
      });
      if (ctx.profileDir)
        await sut.call('profilePhase', { file: join(ctx.profileDir, `api-${name}-${size}.cpuprofile`) });
      const sql = await sut.call('sqlTiming', { reset: true });
      if (sql) sqlTiming[`${name}_${size}`] = sql;
      if (r.non2xx || r.errors)
        throw new Error(`${path} at ${size} rows: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
      row[`${name}_per_s`] = Math.round(r.requests.total / plan.apiSeconds);
      row[`${name}_p50_ms`] = r.latency.p50;
      row[`${name}_p99_ms`] = r.latency.p99;
      ctx.log(
        `api: ${path} at ${size.toLocaleString('en')} rows: ${row[`${name}_per_s`]} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
      );
    }
    bySize.push(row);
  }
  const largest = bySize[bySize.length - 1];
  const smallest = bySize[0];
  const stats = await sut.call<{ peakRssMb: number }>('stats');
  return {
    values: {
      api_list_per_s: largest.list_per_s,
      api_list_p99_ms: largest.list_p99_ms,
      api_feed_per_s: largest.feed_per_s,
      api_feed_p99_ms: largest.feed_p99_ms,
      // p99 at the largest store over p99 at the smallest: 1.0 is perfectly flat.
      api_list_p99_growth: largest.list_p99_ms / Math.max(1, smallest.list_p99_ms),
      api_feed_p99_growth: largest.feed_p99_ms / Math.max(1, smallest.feed_p99_ms),
    },
    details: {
      by_size: bySize,
      connections: plan.apiConnections,
      seconds_per_route: plan.apiSeconds,
      server_peak_rss_mb: stats.peakRssMb,
      ...(Object.keys(sqlTiming).length ? { sql_timing: sqlTiming } : {}),
    },
  };
}
