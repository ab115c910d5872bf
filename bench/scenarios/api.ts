import { join } from 'node:path';
import { endpointUrls, type BenchContext, type ScenarioResult } from '../lib/context.js';
import { CpuMeter } from '../lib/cpu.js';
import type { BenchChild } from '../lib/rpc.js';
import { httpLoad } from '../lib/http-load.js';

/**
 * 6. The read API under load, on the real server (buildApp + listen on 127.0.0.1, an admin API key, the rate limiter
 * in the path at its highest setting): GET /api/v1/complaints and GET /api/v1/events, first page, default limit,
 * with autocannon at 10 connections. The store grows between rounds (complaints and events, bulk-written with the
 * domain's row shapes), so the same process shows whether a page costs the same at 10k rows as at 1M.
 *
 * Beside it, at every size, the baseline: a bare Fastify server in its own process (processes/bare-api.ts) answering
 * the very page our list answered, loaded with the same autocannon settings. For each, the server process's CPU time
 * over the measured window (from /proc) divided by the requests answered: what one request costs the server,
 * which holds up better than requests/s when the shared machine's speed moves.
 */

const ROUTES = { list: '/api/v1/complaints', feed: '/api/v1/events' } as const;

interface Measured {
  perS: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number | null;
}

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
  // The rows are written by a process of their own, so seeding's memory and page cache stay out of the server's.
  const seeder = await ctx.child('processes/seeder', 'seeder');
  const target = await sut.call<Record<string, string>>('bulkSeedTarget');
  const key = await sut.call<string>('apiKey');
  const { port } = await sut.call<{ port: number }>('listen');
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${key}` };
  const bare = await ctx.child('processes/bare-api', 'bare-api');
  let bareBase: string | null = null;

  /** Warm-up, then the measured window: autocannon's figures and the server's CPU per answered request. */
  const measure = async (server: BenchChild, url: string, label: string, profileName: string): Promise<Measured> => {
    const load = (duration: number) => httpLoad({ url, headers, connections: plan.apiConnections, duration });
    await load(1); // warm-up
    if (server === sut) await sut.call('sqlTiming', { reset: true });
    if (ctx.profileDir) await server.call('profilePhase', { start: true });
    // The server process's CPU over the window, per answered request (the meter's `worker` part is the server).
    const meter = await CpuMeter.start({ worker: [server.pid], receiver: [] });
    const r = await load(plan.apiSeconds);
    if (ctx.profileDir) await server.call('profilePhase', { file: join(ctx.profileDir, `${profileName}.cpuprofile`) });
    if (r.non2xx || r.errors) throw new Error(`${label}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    const answered = r.requests;
    const cpu = meter ? await meter.stop(Math.max(answered, 1)) : null;
    const cpuUsPerRequest = cpu && answered > 0 ? cpu.worker : null;
    return { perS: r.perS, p50: r.p50, p99: r.p99, cpuUsPerRequest };
  };

  const bySize: Array<Record<string, number | null>> = [];
  const sqlTiming: Record<string, unknown> = {};
  const bodyBytes: Record<string, number> = {};
  for (const size of plan.apiSizes) {
    const seed = await seeder.call<{ added: number; ms: number }>('bulkSeed', {
      ...target,
      total: size,
      endpointId: seeded.endpointIds[0],
    });
    ctx.log(
      `api: seeded to ${size.toLocaleString('en')} complaints and events (+${seed.added.toLocaleString('en')} in ${(seed.ms / 1000).toFixed(1)} s)`,
    );
    if (!bareBase) {
      // The baseline serves the page our list answers at the first size: the same 25 items, field for field.
      const page = (await (await fetch(base + ROUTES.list, { headers })).json()) as { data: unknown[] };
      const bareAt = await bare.call<{ port: number }>('listen', { page });
      bareBase = `http://127.0.0.1:${bareAt.port}`;
      bodyBytes.list = (await (await fetch(base + ROUTES.list, { headers })).arrayBuffer()).byteLength;
      bodyBytes.bare = (await (await fetch(bareBase + ROUTES.list)).arrayBuffer()).byteLength;
      bodyBytes.items = page.data.length;
      ctx.log(
        `api: the bare Fastify baseline serves ${page.data.length} items, ${bodyBytes.bare} bytes (ours ${bodyBytes.list})`,
      );
    }
    const row: Record<string, number | null> = { rows: size, seed_ms: Math.round(seed.ms) };
    const record = (name: string, m: Measured, label: string) => {
      row[`${name}_per_s`] = m.perS;
      row[`${name}_p50_ms`] = m.p50;
      row[`${name}_p99_ms`] = m.p99;
      row[`${name}_cpu_us_per_request`] = m.cpuUsPerRequest;
      ctx.log(
        `api: ${label} at ${size.toLocaleString('en')} rows: ${m.perS} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ` +
          `${m.cpuUsPerRequest ?? '?'} µs server CPU per request`,
      );
    };
    for (const [name, path] of Object.entries(ROUTES)) {
      const m = await measure(sut, base + path, `${path} at ${size} rows`, `api-${name}-${size}`);
      const sql = await sut.call('sqlTiming', { reset: true });
      if (sql) sqlTiming[`${name}_${size}`] = sql;
      record(name, m, path);
      if (name === 'list') {
        // Right after our list, under the same conditions.
        record('bare', await measure(bare, bareBase + ROUTES.list, 'bare Fastify', `api-bare-${size}`), 'bare Fastify');
      }
    }
    bySize.push(row);
  }
  const largest = bySize[bySize.length - 1];
  const smallest = bySize[0];
  const n = (v: number | null | undefined) => v ?? null;
  const stats = await sut.call<{ peakRssMb: number }>('stats');
  return {
    values: {
      api_list_per_s: n(largest.list_per_s),
      api_list_p99_ms: n(largest.list_p99_ms),
      api_feed_per_s: n(largest.feed_per_s),
      api_feed_p99_ms: n(largest.feed_p99_ms),
      // p99 at the largest store over p99 at the smallest: 1.0 is perfectly flat.
      api_list_p99_growth: largest.list_p99_ms! / Math.max(1, smallest.list_p99_ms!),
      api_feed_p99_growth: largest.feed_p99_ms! / Math.max(1, smallest.feed_p99_ms!),
      api_bare_fastify_per_s: n(largest.bare_per_s),
      api_list_vs_bare: largest.list_per_s! / largest.bare_per_s!,
      api_list_cpu_us_per_request: n(largest.list_cpu_us_per_request),
      api_feed_cpu_us_per_request: n(largest.feed_cpu_us_per_request),
      api_bare_cpu_us_per_request: n(largest.bare_cpu_us_per_request),
    },
    details: {
      by_size: bySize,
      connections: plan.apiConnections,
      seconds_per_route: plan.apiSeconds,
      body_bytes: bodyBytes,
      server_peak_rss_mb: stats.peakRssMb,
      ...(Object.keys(sqlTiming).length ? { sql_timing: sqlTiming } : {}),
    },
  };
}
