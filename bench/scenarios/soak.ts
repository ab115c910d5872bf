import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { endpointUrls, type BenchContext, type ScenarioResult } from '../lib/context.js';
import { epochMs, sleep } from '../lib/time.js';
import { COMPANIES, drain, warmUp } from './delivery.js';

/**
 * 10. Soak (`--soak`, `--soak-minutes=N`, 20 by default): one SQLite process serving and delivering as the default
 * deployment does, its retention step running every 10 s (ESCALATR_RETENTION_INTERVAL_S=10) with every company's
 * window set by the operator to 2 minutes (`escalatr company set-retention --minutes 2`). Its capacity is measured
 * first (one backlog filed and drained, as the sqlite scenario does; filing and draining timed together), then
 * complaints are filed at a steady rate of half that capacity for the whole soak while the worker delivers them.
 * Every 30 s the file's size, the bytes of each table with its indexes, the deliveries per status, the process's RSS
 * and the retention step's last run are sampled.
 *
 * Figures compare the last two minutes with the two minutes after warm-up (the first three windows, or half of a
 * shorter soak). Delivery history (deliveries, attempts, held deliveries) is what retention governs and must stay
 * flat; complaints and their timelines (the events that carry a complaint's id) are the company's records and are
 * kept whatever the window, so they grow with every complaint filed: they are reported apart
 * (`soak_records_growth_mb`), and the whole file's growth is their sum.
 */

const WINDOW_MINUTES = 2;
const RETENTION_INTERVAL_MS = 10_000;
const SAMPLE_MS = 30_000;
const HISTORY_TABLES = ['deliveries', 'attempts', 'retention_held', 'feedback_records'];
const RECORD_TABLES = ['complaints', 'events', 'complaint_counts'];

interface Sample {
  at_s: number;
  fileBytes: number;
  usedBytes: number;
  tables: Record<string, number>;
  rssMb: number;
  /** The retention step's counters so far: rows removed per table, runs per outcome. */
  retention: { pruned: Record<string, number>; runs: Record<string, number> };
  /** The retention step's last finished run: rows removed, whether it finished, where its time went. */
  lastRun: unknown;
  /** Deliveries per status: unsettled ones growing means the worker, not retention, is behind. */
  deliveries: Record<string, number>;
  /** With --sql-timing: the statements that took the most time since the previous sample. */
  sql?: unknown;
}

const sum = (tables: Record<string, number>, names: string[]) => names.reduce((n, t) => n + (tables[t] ?? 0), 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const mb = (bytes: number) => bytes / 1048576;

export async function soak(ctx: BenchContext): Promise<ScenarioResult> {
  const { plan } = ctx;
  const seconds = plan.soakMinutes * 60;
  const sut = await ctx.child('processes/escalatr', 'soak');
  const dbFile = join(ctx.tempDir(), 'soak.db');
  await sut.call('open', {
    store: { kind: 'sqlite', file: dbFile },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
    config: { retentionIntervalMs: RETENTION_INTERVAL_MS },
  });
  await sut.call('seed', { code: 'SOAK', companies: COMPANIES, endpoints: endpointUrls(ctx.receiverUrl, plan.fanout) });
  await warmUp(ctx, sut, [sut]);
  // The soak's process files the complaints as well as delivering them, and filing an event with its ten deliveries
  // costs about as much as delivering them: capacity is the rate at which it does both, the backlog's filing time
  // and its drain together. The drain alone would put "half of capacity" at nearly all of it.
  const capacity = await drain(ctx, sut, [sut], 1);
  const eventsPerS = capacity.endToEndPerSecond / 2 / plan.fanout;
  ctx.log(
    `soak: capacity ${Math.round(capacity.endToEndPerSecond)} deliveries/s filed and delivered (${Math.round(capacity.perSecond)}/s draining a backlog alone); filing ${eventsPerS.toFixed(1)} complaints/s (${Math.round(eventsPerS * plan.fanout)} deliveries/s) for ${plan.soakMinutes} min with a ${WINDOW_MINUTES}-minute window`,
  );

  await sut.call('retentionMinutes', { minutes: WINDOW_MINUTES });
  await sut.call('workerStart');
  const t0 = epochMs();
  const samples: Sample[] = [];
  // The store is read from this process (WAL lets a reader in beside the writer): dbstat reads every page of the
  // file, seconds on a large one, which inside the process measured would stall its deliveries and retention.
  const reader = new SQLite(dbFile, { readonly: true });
  const tableBytes = reader.prepare(
    `select coalesce(m.tbl_name, d.name) as "table", sum(d.pgsize) as bytes
     from dbstat d left join sqlite_master m on m.name = d.name group by 1`,
  );
  const byStatus = reader.prepare('select status, count(*) as n from deliveries group by status');
  const pragma = (name: string) => Number(reader.pragma(name, { simple: true }));
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  const take = async () => {
    const s = await sut.call<Pick<Sample, 'retention' | 'lastRun' | 'rssMb'>>('storeSample');
    const sqlTiming = await sut.call('sqlTiming', { reset: true });
    const tables = tableBytes.all() as Array<{ table: string; bytes: number }>;
    const statuses = byStatus.all() as Array<{ status: string; n: number }>;
    samples.push({
      at_s: Math.round((epochMs() - t0) / 1000),
      ...s,
      fileBytes: size(dbFile) + size(`${dbFile}-wal`),
      usedBytes: (pragma('page_count') - pragma('freelist_count')) * pragma('page_size'),
      tables: Object.fromEntries(tables.map((r) => [r.table, Number(r.bytes)])),
      deliveries: Object.fromEntries(statuses.map((r) => [r.status, Number(r.n)])),
      ...(sqlTiming ? { sql: sqlTiming } : {}),
    });
  };
  let paced = false;
  const load = sut.call<{ failures: number; offered: number; achievedPerSecond: number }>('pace', {
    rate: eventsPerS,
    seconds,
    record: false,
  });
  void load.finally(() => (paced = true));
  await take();
  while (!paced) {
    const wait = t0 + samples.length * SAMPLE_MS - epochMs();
    for (let waited = 0; waited < wait && !paced; waited += 500) await sleep(Math.min(500, wait - waited));
    if (!paced) await take();
  }
  const offered = await load;
  await take();
  reader.close();
  await sut.call('workerStop');

  // Warm-up: the first three windows (the first removal runs once rows are a window old), or half of a short soak.
  const warmupS = Math.min(3 * WINDOW_MINUTES * 60, seconds / 2);
  const spanS = WINDOW_MINUTES * 60;
  const after = samples.filter((s) => s.at_s >= warmupS && s.at_s < warmupS + spanS);
  const last = samples.filter((s) => s.at_s >= samples[samples.length - 1].at_s - spanS);
  const growth = (f: (s: Sample) => number) => {
    const base = mean(after.map(f));
    const end = mean(last.map(f));
    return { base, end, growth: end - base, pct: base > 0 ? (end - base) / base : 0 };
  };
  const history = growth((s) => mb(sum(s.tables, HISTORY_TABLES)));
  const records = growth((s) => mb(sum(s.tables, RECORD_TABLES)));
  const file = growth((s) => mb(s.fileBytes));
  const rss = growth((s) => s.rssMb);
  ctx.log(
    `soak: history ${history.base.toFixed(1)} → ${history.end.toFixed(1)} MB (${(history.pct * 100).toFixed(1)}%), records ${records.base.toFixed(1)} → ${records.end.toFixed(1)} MB, file ${file.base.toFixed(1)} → ${file.end.toFixed(1)} MB, RSS ${rss.base.toFixed(0)} → ${rss.end.toFixed(0)} MB (${(rss.pct * 100).toFixed(1)}%)`,
  );
  const round1 = (v: number) => Number(v.toFixed(1));
  return {
    values: {
      soak_store_growth_mb: history.growth,
      soak_store_growth_pct: history.pct,
      soak_rss_growth_mb: rss.growth,
      soak_rss_growth_pct: rss.pct,
      soak_records_growth_mb: records.growth,
      soak_file_growth_mb: file.growth,
    },
    details: {
      minutes: plan.soakMinutes,
      window_minutes: WINDOW_MINUTES,
      retention_interval_s: RETENTION_INTERVAL_MS / 1000,
      capacity_deliveries_per_s: Math.round(capacity.endToEndPerSecond),
      drain_deliveries_per_s: Math.round(capacity.perSecond),
      offered_complaints_per_s: round1(eventsPerS),
      achieved_complaints_per_s: round1(offered.achievedPerSecond),
      failed_commits: offered.failures,
      warmup_s: warmupS,
      history_mb: { after_warmup: round1(history.base), last: round1(history.end) },
      records_mb: { after_warmup: round1(records.base), last: round1(records.end) },
      file_mb: { after_warmup: round1(file.base), last: round1(file.end) },
      rss_mb: { after_warmup: round1(rss.base), last: round1(rss.end) },
      samples: samples.map((s) => ({
        at_s: s.at_s,
        file_mb: round1(mb(s.fileBytes)),
        used_mb: round1(mb(s.usedBytes)),
        history_mb: round1(mb(sum(s.tables, HISTORY_TABLES))),
        records_mb: round1(mb(sum(s.tables, RECORD_TABLES))),
        rss_mb: round1(s.rssMb),
        deliveries: s.deliveries,
        retention: s.retention,
        last_run: s.lastRun,
        ...(s.sql ? { sql_timing: s.sql } : {}),
      })),
    },
  };
}
