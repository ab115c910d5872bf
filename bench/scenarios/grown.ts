import { join } from 'node:path';
import type { BenchChild } from '../lib/rpc.js';
import { httpLoad } from '../lib/http-load.js';
import { endpointUrls, median, type BenchContext, type ScenarioResult } from '../lib/context.js';
import { createDatabase } from '../lib/services.js';
import type { HistorySeedResult } from '../lib/history-seed.js';
import type { CpuParts } from '../lib/cpu.js';
import { COMPANIES, drain, warmUp } from './delivery.js';

/**
 * 9. A grown store against a fresh one: the same run on a store with no history and on one that already
 * holds `grownAttempts` attempt rows of settled history spread over 60 days across the run's companies (with their
 * deliveries, events in the feed and complaints; bench/lib/history-seed.ts) — each time draining the same backlog
 * (deliveries/s, as the delivery scenario measures it) and then loading GET /api/v1/complaints and GET /api/v1/events
 * of a company whose history it is (p99, as the api scenario measures it). The figures are grown / fresh: 1.0 is a
 * store whose cost does not depend on its history.
 */

const HISTORY_DAYS = 60;
const ROUTES = { list: '/api/v1/complaints', feed: '/api/v1/events' } as const;

type ApiLoad = Awaited<ReturnType<typeof apiLoad>>;

interface Measured {
  perSecond: number;
  all: number[];
  /** Medians over the side's API rounds. */
  p99: Record<keyof typeof ROUTES, number>;
  perS: Record<keyof typeof ROUTES, number>;
  apiRounds: ApiLoad[];
  history: HistorySeedResult | null;
  storeMb: number;
  cpuPerRound: Array<Record<string, number> | null>;
  storePerRound: unknown[];
  details: Record<string, unknown>;
}

/**
 * p99 and requests/s of each route, with a second of warm-up first. With --profile, a CPU profile of the server over
 * each measured window, named by `profileName` and the route.
 */
async function apiLoad(ctx: BenchContext, sut: BenchChild, profileName: string) {
  const key = await sut.call<string>('apiKey');
  const { port } = await sut.call<{ port: number }>('listen');
  const headers = { authorization: `Bearer ${key}` };
  const p99 = { list: 0, feed: 0 };
  const perS = { list: 0, feed: 0 };
  const sqlTiming: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(ROUTES) as Array<[keyof typeof ROUTES, string]>) {
    const url = `http://127.0.0.1:${port}${path}`;
    const opts = { url, headers, connections: ctx.plan.apiConnections };
    await httpLoad({ ...opts, duration: 1 });
    await sut.call('sqlTiming', { reset: true });
    if (ctx.profileDir) await sut.call('profilePhase', { start: true });
    const r = await httpLoad({ ...opts, duration: ctx.plan.apiSeconds });
    if (ctx.profileDir)
      await sut.call('profilePhase', { file: join(ctx.profileDir, `${profileName}-${name}.cpuprofile`) });
    const timing = await sut.call('sqlTiming', { reset: true });
    if (timing) sqlTiming[name] = timing;
    if (r.non2xx || r.errors) throw new Error(`${path}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    p99[name] = r.p99;
    perS[name] = r.perS;
  }
  return { p99, perS, ...(Object.keys(sqlTiming).length ? { sqlTiming } : {}) };
}

interface Side {
  label: string;
  producer: BenchChild;
  workers: BenchChild[];
  store?: CpuParts['store'];
  history: HistorySeedResult | null;
  storeMb: number;
}

/** Seeds a side's tenants (and, for the grown side, its history) and warms its processes up. */
async function prepare(
  ctx: BenchContext,
  label: string,
  opened: Omit<Side, 'label' | 'history' | 'storeMb'>,
  attempts: number,
) {
  const { producer, workers } = opened;
  await producer.call('seed', {
    code: 'GROW',
    companies: COMPANIES,
    endpoints: endpointUrls(ctx.receiverUrl, ctx.plan.fanout),
  });
  let history: HistorySeedResult | null = null;
  if (attempts > 0) {
    history = await producer.call<HistorySeedResult>('seedHistory', { attempts, days: HISTORY_DAYS });
    ctx.log(
      `${label}: seeded ${history.attempts.toLocaleString('en')} attempts, ${history.deliveries.toLocaleString('en')} deliveries, ${history.events.toLocaleString('en')} events, ${history.complaints.toLocaleString('en')} complaints in ${(history.ms / 1000).toFixed(1)} s`,
    );
  }
  const storeMb = Math.round((await producer.call<number>('storeBytes')) / 1048576);
  await warmUp(ctx, producer, workers);
  await producer.call('flushStore');
  return { label, ...opened, history, storeMb };
}

/**
 * The rounds alternate between the two stores (fresh, grown, fresh, grown…), both open at once, so whatever
 * changes on the machine over the minutes a run takes (the page cache, other load) weighs on both sides alike
 * instead of on whichever ran second, and on SQLite each round's WAL is written back before the next round starts.
 * Then each side's API load, in pairs the same way.
 */
async function compare(ctx: BenchContext, fresh: Side, grown: Side): Promise<[Measured, Measured]> {
  type Round = Awaited<ReturnType<typeof drain>>;
  const rounds = new Map<Side, Round[]>([
    [fresh, []],
    [grown, []],
  ]);
  for (let i = 0; i < ctx.plan.grownPairs; i++) {
    for (const side of [fresh, grown]) {
      const { producer, workers, store } = side;
      const round = await drain(ctx, producer, workers, workers[0] === producer ? 1 : 8, store);
      rounds.get(side)!.push(round);
      // The other side's round is next: it should not pay for this one's WAL reaching the file (SQLite).
      await producer.call('flushStore');
      ctx.log(`${side.label}: round ${i + 1}: ${Math.round(round.perSecond)} deliveries/s`);
    }
  }
  const apiRounds = new Map<Side, ApiLoad[]>([
    [fresh, []],
    [grown, []],
  ]);
  for (let i = 0; i < ctx.plan.grownApiPairs; i++) {
    for (const side of [fresh, grown]) {
      const api = await apiLoad(ctx, side.producer, `${side.label.replace(/\W+/g, '-')}-api-${i + 1}`);
      apiRounds.get(side)!.push(api);
      ctx.log(`${side.label}: API round ${i + 1}: list p99 ${api.p99.list} ms, feed p99 ${api.p99.feed} ms`);
    }
  }
  const measured = [];
  for (const side of [fresh, grown]) {
    const all = rounds.get(side)!;
    const perSecond = median(all.map((r) => r.perSecond));
    const api = apiRounds.get(side)!;
    const medianOf = (pick: (a: ApiLoad) => Record<keyof typeof ROUTES, number>) => ({
      list: median(api.map((a) => pick(a).list)),
      feed: median(api.map((a) => pick(a).feed)),
    });
    const p99 = medianOf((a) => a.p99);
    ctx.log(
      `${side.label}: ${Math.round(perSecond)} deliveries/s (median of ${all.map((r) => Math.round(r.perSecond)).join(', ')}); list p99 ${p99.list} ms, feed p99 ${p99.feed} ms (medians); store ${side.storeMb} MB before the run`,
    );
    measured.push({
      perSecond,
      all: all.map((r) => Math.round(r.perSecond)),
      p99,
      perS: medianOf((a) => a.perS),
      apiRounds: api,
      history: side.history,
      storeMb: side.storeMb,
      cpuPerRound: all.map((r) => r.cpu),
      storePerRound: all.map((r) => r.details.store_per_delivery ?? null),
      details: all[0].details,
    });
  }
  return [measured[0], measured[1]];
}

/**
 * The figures are medians of the pairs' ratios (each round's grown ÷ the fresh round just before it), not ratios of
 * the two sides' medians: a pair's two rounds ran a few seconds apart, so one slow moment of the machine moves one
 * pair's ratio instead of one side's median.
 */
function result(prefix: string, fresh: Measured, grown: Measured): ScenarioResult {
  const pairs = (g: readonly number[], f: readonly number[]) => g.map((x, i) => x / Math.max(1, f[i]));
  const roundRatios = pairs(grown.all, fresh.all);
  const apiRatios = (route: keyof typeof ROUTES) =>
    pairs(
      grown.apiRounds.map((a) => a.p99[route]),
      fresh.apiRounds.map((a) => a.p99[route]),
    );
  const listRatio = median(apiRatios('list'));
  const feedRatio = median(apiRatios('feed'));
  const rounded = (xs: readonly number[]) => xs.map((x) => Number(x.toFixed(3)));
  const side = (m: Measured) => ({
    deliveries_per_s: Math.round(m.perSecond),
    per_round: m.all,
    list_p99_ms: m.p99.list,
    feed_p99_ms: m.p99.feed,
    list_per_s: m.perS.list,
    feed_per_s: m.perS.feed,
    api_rounds: m.apiRounds,
    store_mb_before_run: m.storeMb,
    history: m.history,
    // The drain's details below are the first round's; each round's CPU per delivery per part:
    cpu_per_round: m.cpuPerRound,
    // PostgreSQL: each round's WAL records, full-page images and buffer accesses per delivery, each table's and
    // index's own accesses (`hit.…`), and the vacuums of deliveries during the round (a round that a checkpoint
    // overlapped writes full-page images for the first change of every page it touches).
    store_per_round: m.storePerRound,
    drain: m.details,
  });
  return {
    values: {
      [`${prefix}_throughput_ratio`]: median(roundRatios),
      // The worse of the two routes: the target holds for both.
      [`${prefix}_api_p99_ratio`]: Math.max(listRatio, feedRatio),
      // The grown store's own p99s (medians of its rounds): pages whose events have a delivery per endpoint each,
      // held to the API's p99 target as the api scenario's pages of one delivery an event are.
      [`${prefix}_list_p99_ms`]: grown.p99.list,
      [`${prefix}_feed_p99_ms`]: grown.p99.feed,
    },
    details: {
      fresh: side(fresh),
      grown: side(grown),
      // Each pair's grown ÷ fresh (the headline figures are their medians), and the sides' medians' ratio.
      round_ratios: rounded(roundRatios),
      ratio_of_medians: Number((grown.perSecond / fresh.perSecond).toFixed(3)),
      list_p99_ratios: rounded(apiRatios('list')),
      feed_p99_ratios: rounded(apiRatios('feed')),
      list_p99_ratio: Number(listRatio.toFixed(3)),
      feed_p99_ratio: Number(feedRatio.toFixed(3)),
      history_days: HISTORY_DAYS,
    },
  };
}

/** PostgreSQL, a producer and one worker process per store, each store in a database of its own, dropped at the end. */
export async function pgGrown(ctx: BenchContext): Promise<ScenarioResult> {
  const dbs: Array<{ drop(): Promise<void> }> = [];
  const children: BenchChild[] = [];
  const open = async (label: string, attempts: number) => {
    const db = await createDatabase('escalatr_bench_grown');
    dbs.push(db);
    const store = { kind: 'pg', url: db.url };
    const producer = await ctx.child('processes/escalatr', `${label}-producer`);
    children.push(producer);
    await producer.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: true });
    const worker = await ctx.child('processes/escalatr', `${label}-worker`);
    children.push(worker);
    await worker.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: false });
    return prepare(ctx, label, { producer, workers: [worker], store: { postgres: db.name } }, attempts);
  };
  try {
    // The grown store first: its seed's writes and checkpoint are over before either side is measured.
    const grown = await open('pg grown', ctx.plan.grownPgAttempts);
    const fresh = await open('pg fresh', 0);
    return result('grown_store', ...(await compare(ctx, fresh, grown)));
  } finally {
    await Promise.all(children.map((c) => c.close().catch(() => undefined)));
    await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
  }
}

/** SQLite: one process per store, serving and delivering, as the default deployment runs. */
export async function sqliteGrown(ctx: BenchContext): Promise<ScenarioResult> {
  const children: BenchChild[] = [];
  const open = async (label: string, file: string, attempts: number) => {
    const sut = await ctx.child('processes/escalatr', label);
    children.push(sut);
    await sut.call('open', {
      store: { kind: 'sqlite', file: join(ctx.tempDir(), file) },
      masterKeyHex: ctx.masterKeyHex,
      migrate: true,
    });
    return prepare(ctx, label, { producer: sut, workers: [sut] }, attempts);
  };
  try {
    const grown = await open('sqlite grown', 'grown.db', ctx.plan.grownSqliteAttempts);
    const fresh = await open('sqlite fresh', 'fresh.db', 0);
    return result('grown_sqlite', ...(await compare(ctx, fresh, grown)));
  } finally {
    await Promise.all(children.map((c) => c.close().catch(() => undefined)));
  }
}
