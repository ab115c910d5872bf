import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { buildApp, type App } from '../../src/runtime/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createApiKey } from '../../src/domain/api-keys.js';
import { createCompany } from '../../src/domain/companies.js';
import { fileComplaint } from '../../src/domain/complaints.js';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { truncateWal } from '../../src/storage/dialects.js';
import { firstIdAt } from '../../src/ids.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { ShieldProcessor } from '../../src/shield/processor.js';
import { ScoringPool } from '../../src/shield/scoring-pool.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import { setRetentionByCode } from '../../src/domain/retention.js';
import { startDeliveryWorker, type RunningWorker } from '../../src/webhooks/worker.js';
import { deliveryTargets } from '../../src/runtime/delivery-targets.js';
import { limitHeapGrowth } from '../../src/runtime/heap-growth.js';
import { profilePhase } from '../lib/profile-phase.js';
import { serve } from '../lib/rpc.js';
import { epochMs, peakRssMb, sleep } from '../lib/time.js';
import { seedHistory } from '../lib/history-seed.js';
import { installSqlTiming, resetSqlTiming, sqlTimingReport } from '../lib/sql-timing.js';

const sqlTiming = process.env.BENCH_SQL_TIMING === '1';
if (sqlTiming) installSqlTiming();

/**
 * One process of the system under test, wired as production wires it: `buildApp` over `openStore`, and
 * `startDeliveryWorker` with the SSRF-guarded dispatcher and the configured concurrency. The orchestrator decides
 * its role by the calls it makes: seed a tenant, commit events through the domain (`fileComplaint`), run a worker,
 * serve the HTTP API.
 */

export type StoreSpec = { kind: 'sqlite'; file: string } | { kind: 'pg'; url: string };

let store: Store | null = null;
let app: App | null = null;
let config: Config | null = null;
let running: RunningWorker | null = null;
let shield: { processor: ShieldProcessor; pool: ScoringPool } | null = null;
interface Tenant {
  companyId: string;
  code: string;
  consumerId: string;
}
/** The companies this process files complaints for, in turn. */
let tenants: Tenant[] = [];
/** The endpoints `seed` made, by company id. */
const endpointsOf = new Map<string, string[]>();
const firstTenant = (): Tenant => {
  if (!tenants.length) throw new Error('seed first');
  return tenants[0];
};
const COMPLAINT = {
  complaint_category: 'Billing',
  title: 'Charged twice',
  description: 'The March invoice was charged twice to my card.',
  priority: 'medium' as const,
};
let listening = false;

const need = <T>(v: T | null, what: string): T => {
  if (v === null) throw new Error(`${what} first`);
  return v;
};

/**
 * The configuration production would load from this environment (src/config.ts applies every default), plus what a
 * loopback bench needs: plain http to 127.0.0.0/8 allowed, logs off, and the rate limiter at its highest setting (its
 * per-request work stays in the measurement, its 429s do not).
 */
function benchConfig(spec: StoreSpec, masterKeyHex: string, overrides: Partial<Config>): Config {
  const env: NodeJS.ProcessEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: '/tmp/escalatr-bench-unused',
    ESCALATR_MASTER_KEY: masterKeyHex,
    ESCALATR_ALLOW_HTTP_WEBHOOKS: 'true',
    ESCALATR_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    ESCALATR_RATE_LIMIT_PER_MIN: '1000000',
    ESCALATR_COMPANY_RATE_LIMIT_PER_MIN: '0',
    ESCALATR_COMPANY_SERVING_MS_PER_MIN: '0',
    ESCALATR_COMPANY_BODIES_RECEIVING: '0',
    ESCALATR_COMPANY_CONNECTIONS: '0',
    LOG_LEVEL: 'silent',
    // An operator's heap setting, so a run can compare it with the default.
    ESCALATR_HEAP_GROWTH_PERCENT: process.env.ESCALATR_HEAP_GROWTH_PERCENT,
    ...(spec.kind === 'pg' ? { DATABASE_URL: spec.url } : {}),
  };
  return { ...loadConfig(env), ...overrides };
}

/**
 * Deliveries not yet settled (pending, or failed and waiting for a retry), optionally for some endpoints only.
 * The statuses are literals so that SQLite can use the partial index `deliveries_due`: with bound parameters it cannot
 * prove the index covers the query, and scans the whole table.
 */
async function unsettled(endpointIds?: string[]): Promise<number> {
  let q = need(store, 'open')
    .db.selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(sql<boolean>`status in ('pending', 'failed')`);
  if (endpointIds?.length) q = q.where('endpoint_id', 'in', endpointIds);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** Bytes the store occupies now (SQLite: pages in use, WAL included; PostgreSQL: the database's size). */
async function storeBytes(): Promise<number> {
  const s = need(store, 'open');
  if (s.profile.name === 'sqlite') {
    const page = await sql<{ page_count: number }>`pragma page_count`.execute(s.db);
    const size = await sql<{ page_size: number }>`pragma page_size`.execute(s.db);
    const free = await sql<{ freelist_count: number }>`pragma freelist_count`.execute(s.db);
    return (Number(page.rows[0].page_count) - Number(free.rows[0].freelist_count)) * Number(size.rows[0].page_size);
  }
  const r = await sql<{ bytes: string }>`select pg_database_size(current_database()) as bytes`.execute(s.db);
  return Number(r.rows[0].bytes);
}

serve(
  {
    async open(args: {
      store: StoreSpec;
      masterKeyHex: string;
      migrate: boolean;
      config?: Partial<Config>;
      poolSize?: number;
    }) {
      const spec = args.store;
      // PostgreSQL: the production pool size (openStore's default) unless a run says otherwise.
      store =
        spec.kind === 'sqlite'
          ? openStore({ sqliteFile: spec.file, backgroundCheckpoints: { onLost: (err) => console.error(err) } })
          : openStore({ databaseUrl: spec.url, poolSize: args.poolSize });
      if (args.migrate) await migrateToLatest(store.db);
      config = benchConfig(spec, args.masterKeyHex, args.config ?? {});
      // As the server does before it starts: the process's heap growth.
      limitHeapGrowth(config.heapGrowthPercent);
      app = await buildApp({ config, store, logger: false });
      await app.http.ready();
      // As the server starts it: the read replica's position checks, when DATABASE_READ_URL names one.
      app.reads.start();
      return { workerConcurrency: config.workerConcurrency, perEndpointConcurrency: config.perEndpointConcurrency };
    },

    /**
     * `companies` companies (default 1) on a plan with API access, each with a consumer who files its complaints and
     * the given webhook endpoints. Codes are `code`, then `code` + A, B, … for the others.
     */
    async seed(args: {
      code: string;
      companies?: number;
      endpoints: Array<{ url: string; timeoutMs?: number }>;
      ordering?: 'none' | 'per_complaint';
    }) {
      const ctx = need(app, 'open').ctx;
      const { consumer } = await createConsumerWithToken(ctx, {
        email: `bench+${args.code.toLowerCase()}@example.test`,
        name: 'Bench',
      });
      const endpointIds: string[] = [];
      tenants = [];
      for (let i = 0; i < (args.companies ?? 1); i++) {
        const code = i === 0 ? args.code : `${args.code}${String.fromCharCode(64 + i)}`;
        const company = await createCompany(ctx, { name: `${code} Bench`, code, plan: 'professional' });
        for (const ep of args.endpoints) {
          const created = await createEndpoint(
            ctx,
            company.id,
            { url: ep.url, events: ['*'], timeout_ms: ep.timeoutMs, ordering: args.ordering ?? 'none' },
            { allowHttp: true, allowCidrs: ['127.0.0.0/8'] },
          );
          endpointIds.push(created.id);
        }
        endpointsOf.set(company.id, endpointIds.slice(-args.endpoints.length));
        tenants.push({ companyId: company.id, code, consumerId: consumer.id });
      }
      // As after the retention step's first run: the companies in their plan's retention class, and on PostgreSQL
      // the history's partitions made, so deliveries and attempts land where a running service puts them.
      await need(app, 'open').retention.run();
      return { tenants, endpointIds };
    },

    /** Other processes' tenants: a producer that commits for companies it did not create. */
    useTenants(args: { tenants: Tenant[] }) {
      tenants = args.tenants;
      return null;
    },

    /** Files `count` complaints through the domain as fast as the store takes them, `parallel` at a time. */
    async commit(args: { count: number; parallel?: number }) {
      const ctx = need(app, 'open').ctx;
      firstTenant();
      let next = 0;
      const lane = async () => {
        while (next < args.count) {
          const t = tenants[next++ % tenants.length];
          await fileComplaint(ctx, { consumerId: t.consumerId, company_code: t.code, ...COMPLAINT });
        }
      };
      const startedAt = epochMs();
      await Promise.all(Array.from({ length: args.parallel ?? 1 }, lane));
      const ms = epochMs() - startedAt;
      return { count: args.count, ms, perSecond: (args.count / ms) * 1000 };
    },

    /**
     * Files `complaints` complaints, then `followUps` more events on each of them in rounds (every complaint's
     * second event, then every third…), `parallel` at a time: a backlog where each complaint has several events, so an
     * endpoint ordered per complaint has to send them one after another.
     */
    async commitThreads(args: { complaints: number; followUps: number; parallel?: number }) {
      const ctx = need(app, 'open').ctx;
      firstTenant();
      const filed: Array<{ companyId: string; complaintId: string }> = [];
      let next = 0;
      const fileLane = async () => {
        while (next < args.complaints) {
          const t = tenants[next++ % tenants.length];
          const c = await fileComplaint(ctx, { consumerId: t.consumerId, company_code: t.code, ...COMPLAINT });
          filed.push({ companyId: t.companyId, complaintId: c.escalatr_id });
        }
      };
      const startedAt = epochMs();
      await Promise.all(Array.from({ length: args.parallel ?? 1 }, fileLane));
      for (let round = 1; round <= args.followUps; round++) {
        let i = 0;
        const lane = async () => {
          while (i < filed.length) {
            const { companyId, complaintId } = filed[i++];
            await transact(ctx, (work) =>
              emitEvent(ctx, work, {
                companyId,
                name: 'message.new',
                complaintId,
                data: { complaint_id: complaintId, round },
              }),
            );
          }
        };
        await Promise.all(Array.from({ length: args.parallel ?? 1 }, lane));
      }
      const events = args.complaints * (1 + args.followUps);
      const ms = epochMs() - startedAt;
      return { events, ms, perSecond: (events / ms) * 1000 };
    },

    /**
     * Files complaints at a steady `rate` for `seconds`, recording when each commit was acknowledged (keyed by the
     * escalatr_id that the receiver reads back from the body). Commits are started on schedule, not one after
     * another, so a slow commit does not lower the offered rate.
     */
    async pace(args: { rate: number; seconds: number; record?: boolean }) {
      const ctx = need(app, 'open').ctx;
      firstTenant();
      const total = Math.round(args.rate * args.seconds);
      const commits: Array<[string, number]> = [];
      let committed = 0;
      const inFlight = new Set<Promise<void>>();
      const startedAt = epochMs();
      let failures = 0;
      for (let i = 0; i < total; i++) {
        const due = startedAt + (i * 1000) / args.rate;
        const wait = due - epochMs();
        if (wait > 1) await sleep(wait);
        const t = tenants[i % tenants.length];
        const p = fileComplaint(ctx, { consumerId: t.consumerId, company_code: t.code, ...COMPLAINT })
          .then((c) => {
            committed++;
            // A long steady load (the soak) keeps no list: it would grow the memory being measured.
            if (args.record !== false) commits.push([c.escalatr_id, epochMs()]);
          })
          .catch(() => {
            failures++;
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
      const ms = epochMs() - startedAt;
      return { commits, failures, offered: total, achievedPerSecond: (committed / ms) * 1000 };
    },

    async workerStart() {
      const a = need(app, 'open');
      if (!running) {
        running = await startDeliveryWorker({
          ctx: a.ctx,
          config: need(config, 'open'),
          targets: deliveryTargets(),
          metrics: a.metrics,
          onStoreError: (err) => a.readiness.noteError(err),
          autoStart: false,
        });
        // From the first round on, as a worker process runs it beside its worker (PostgreSQL; nothing on SQLite).
        a.queueVacuum.start();
      }
      await running.worker.start();
      return epochMs();
    },

    async workerStop() {
      await running?.worker.stop();
      return null;
    },

    /** Polls the store until no delivery (of these endpoints) is left to settle; returns when that was seen. */
    async waitSettled(args: { endpointIds?: string[]; pollMs?: number; timeoutMs?: number }) {
      const deadline = epochMs() + (args.timeoutMs ?? 300_000);
      for (;;) {
        if ((await unsettled(args.endpointIds)) === 0) return epochMs();
        if (epochMs() > deadline) throw new Error(`deliveries still unsettled after ${args.timeoutMs ?? 300_000} ms`);
        await sleep(args.pollMs ?? 20);
      }
    },

    /**
     * How the deliveries made since `sinceMs` ended, with their events and attempt rows. Only those rows are
     * counted, found by their ids (which start with their creation time): counting whole tables read a grown
     * store's entire history between its rounds.
     */
    async outcome(args: { sinceMs: number }) {
      const db = need(store, 'open').db;
      const firstDelivery = firstIdAt('dlv', args.sinceMs);
      const byStatus = await db
        .selectFrom('deliveries')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('id', '>=', firstDelivery)
        .groupBy('status')
        .execute();
      const attempts = await db
        .selectFrom('attempts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('delivery_id', '>=', firstDelivery)
        .executeTakeFirstOrThrow();
      const events = await db
        .selectFrom('events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('id', '>=', firstIdAt('evt', args.sinceMs))
        .executeTakeFirstOrThrow();
      return {
        deliveries: Object.fromEntries(byStatus.map((r) => [r.status, Number(r.n)])),
        attempts: Number(attempts.n),
        events: Number(events.n),
      };
    },

    /**
     * PostgreSQL's counters of what the server wrote and read (null on SQLite): its WAL (cluster-wide; the other
     * side of a comparison is idle while one side is measured), this database's buffer hits and reads, and the
     * buffer hits of each table and index (`hit.<name>`), which say where a change in the total comes from, and the
     * vacuums and analyzes of the queue's partition of deliveries.
     */
    async storeCounters() {
      const s = need(store, 'open');
      if (s.profile.name === 'sqlite') return null;
      const { rows } = await sql<Record<string, string>>`
        select w.wal_records, w.wal_fpi, w.wal_bytes, d.blks_hit, d.blks_read,
          q.vacuum_count as deliveries_queue_vacuums, q.analyze_count as deliveries_queue_analyzes
        from pg_stat_wal w, pg_stat_database d, pg_stat_user_tables q
        where d.datname = current_database() and q.schemaname = current_schema() and q.relname = 'deliveries_queue'`.execute(
        s.db,
      );
      const relations = await sql<{ name: string; hits: string }>`
        select relname as name, heap_blks_hit as hits from pg_statio_user_tables where heap_blks_hit > 0
        union all
        select indexrelname, idx_blks_hit from pg_statio_user_indexes where idx_blks_hit > 0`.execute(s.db);
      return Object.fromEntries([
        ...Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]),
        ...relations.rows.map((r) => [`hit.${r.name}`, Number(r.hits)]),
      ]);
    },

    /**
     * SQLite: copies the WAL into the file and truncates it, so what the last round left for the checkpoint thread is
     * not done during whatever is measured next (in another process, too). PostgreSQL is left to its own
     * checkpoints, which spread their writes over minutes: a forced checkpoint between rounds made the grown
     * store's next rounds slower in every run where it was tried (docs/benchmarks.md), which is not what a store in
     * service meets.
     */
    async flushStore() {
      const s = need(store, 'open');
      return s.profile.name === 'sqlite' ? truncateWal(s.db) : true;
    },

    /** Bytes the store occupies now (SQLite: pages in use, WAL included; PostgreSQL: the database's size). */
    storeBytes,

    /** An admin key of the first tenant, or of tenant `tenant` (0-based) of the seeded ones. */
    async apiKey(args?: { tenant?: number }) {
      const ctx = need(app, 'open').ctx;
      const t = args?.tenant === undefined ? firstTenant() : tenants[args.tenant];
      const { key } = await createApiKey(ctx, { companyId: t.companyId, name: 'bench', scope: 'admin' });
      return key;
    },

    /** The Shield processor as production starts it: its scoring threads and per-company quota from the config. */
    shieldStart() {
      const ctx = need(app, 'open').ctx;
      const cfg = need(config, 'open');
      if (!shield) {
        const pool = new ScoringPool(cfg.shieldThreads);
        shield = {
          pool,
          processor: new ShieldProcessor(ctx, { pool, companyInFlight: cfg.shieldCompanyInFlight }),
        };
        shield.processor.start();
      }
      return { threads: cfg.shieldThreads, companyInFlight: cfg.shieldCompanyInFlight };
    },

    /** Feedback records not scored yet. */
    async shieldUnscored() {
      const row = await need(store, 'open')
        .db.selectFrom('feedback_records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('scored_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /**
     * Where bulk rows go (SQLite only): the store's file and the first company's ids, for the seeder process
     * (processes/seeder.ts), which writes complaints and their events straight into the tables.
     */
    bulkSeedTarget() {
      const s = need(store, 'open');
      if (!s.sqliteFile) throw new Error('bulk seeding is implemented for the SQLite store');
      const t = firstTenant();
      return { file: s.sqliteFile, companyId: t.companyId, code: t.code, consumerId: t.consumerId };
    },

    /** Delivery history for every seeded company, before any traffic (bench/lib/history-seed.ts). */
    async seedHistory(args: { attempts: number; days: number }) {
      const companies = tenants.map((t) => ({ ...t, endpointIds: endpointsOf.get(t.companyId) ?? [] }));
      return seedHistory(need(store, 'open'), { companies, attempts: args.attempts, days: args.days });
    },

    /** The operator's retention window in minutes for every seeded company, and the retention step started. */
    async retentionMinutes(args: { minutes: number }) {
      const a = need(app, 'open');
      for (const t of tenants) await setRetentionByCode(a.ctx, t.code, { minutes: args.minutes });
      a.retention.start();
      return null;
    },

    /**
     * The process's side of a soak sample: its resident memory and the retention step's counters and last run. The
     * store's side (table sizes, queue) is read by the bench from the file itself, so a scan of a large file does not
     * stall the process measured.
     */
    async storeSample() {
      const a = need(app, 'open');
      const m = a.metrics;
      const byLabel = async (c: typeof m.retentionPruned | typeof m.retentionRuns) =>
        Object.fromEntries((await c.get()).values.map((v) => [Object.values(v.labels).join(','), v.value]));
      const last = a.retention.lastReport;
      return {
        retention: { pruned: await byLabel(m.retentionPruned), runs: await byLabel(m.retentionRuns) },
        lastRun: last && { pruned: last.pruned, done: last.done, timing: last.timing },
        rssMb: process.memoryUsage().rss / 1048576,
      };
    },

    async listen() {
      const a = need(app, 'open');
      if (!listening) await a.http.listen({ port: 0, host: '127.0.0.1' });
      listening = true;
      return { port: (a.http.server.address() as AddressInfo).port };
    },

    /** With --sql-timing: the statements that took the most time since the last reset. */
    sqlTiming(args: { reset?: boolean }) {
      if (!sqlTiming) return null;
      const report = sqlTimingReport();
      if (args.reset) resetSqlTiming();
      return report;
    },

    /** With --profile: a CPU profile of the measured phase alone (the whole-process profile mixes in start-up). */
    profilePhase,

    stats() {
      const m = process.memoryUsage();
      const mb = (n: number) => Math.round(n / 1024 / 1024);
      return {
        peakRssMb: peakRssMb(),
        rssMb: mb(m.rss),
        heapUsedMb: mb(m.heapUsed),
        heapTotalMb: mb(m.heapTotal),
        externalMb: mb(m.external),
      };
    },
  },
  async () => {
    await shield?.processor.stop();
    await shield?.pool.close();
    await running?.stop();
    await app?.queueVacuum.stop();
    await app?.scheduler.stop();
    await app?.http.close();
    await store?.close();
  },
);
