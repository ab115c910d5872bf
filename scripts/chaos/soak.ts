import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chaosEnv, createDatabase, createEndpoint, settleAndCount, startCountingReceiver } from './load.js';
import { freePort, runCli, startCli, waitReady, type Proc } from './processes.js';

/**
 * The soak: one `escalatr serve` (API, scheduler, Shield processor and delivery worker) under moderate mixed load
 * for a long time, sampled at intervals for what grows when something leaks: resident memory, open file
 * descriptors, active libuv handles, and the store's size on disk. Growth is measured from the end of the warm-up
 * (caches filled, JIT settled) to the last sample. Nothing deletes history yet, so the store grows with every
 * event by design; that growth is reported per event rather than called a leak.
 */

export interface SoakOptions {
  minutes: number;
  store: 'sqlite' | 'postgres';
  /** PostgreSQL base URL (a database is created and dropped for the run); required for store 'postgres'. */
  databaseUrl?: string;
  /** Where the JSON report is written. */
  jsonPath: string;
  log?: (line: string) => void;
}

interface SoakSample {
  t_s: number;
  rss_mb: number;
  heap_used_mb: number | null;
  open_fds: number;
  active_handles: number | null;
  store_mb: number;
  events: number;
  feedback: number;
  requests: number;
  errors: number;
  delivered: number;
  alerts: number;
}

export interface SoakReport {
  scenario: string;
  store: 'sqlite' | 'postgres';
  minutes: number;
  warmup_s: number;
  load: { writes_per_s: number; reads_per_s: number; feedback_records_per_s: number };
  samples: SoakSample[];
  growth_after_warmup: {
    rss_mb: number;
    /** Least-squares slope over every sample after the warm-up: a trend, where two end points are noise. */
    rss_mb_per_hour: number;
    rss_range_mb: [number, number];
    heap_used_mb_per_hour: number | null;
    heap_used_mb: number | null;
    open_fds: number;
    active_handles: number | null;
    store_mb: number;
    events: number;
    feedback: number;
    store_bytes_per_event: number | null;
    store_bytes_per_item: number | null;
  };
  requests: number;
  errors: number;
  error_samples: string[];
  latency_ms: { p50: number; p99: number; max: number };
  deliveries: { events: number; delivered: number; duplicated: number; lost: number; stuck: number };
  shield_alerts: { distinct: number; duplicated: number };
  /** The verdict's reasons; empty when the soak passed. */
  problems: string[];
}

// Moderate load: a steady trickle of each kind of work, far below what one process can take.
const WRITE_EVERY_MS = 250; // 4 complaints a second
const READ_EVERY_MS = 100; // 10 reads a second, rotating over the list routes
const FEEDBACK_EVERY_MS = 2000; // a batch of FEEDBACK_BATCH records every 2 s
const FEEDBACK_BATCH = 10;

const CALM = [
  'Thanks, the replacement arrived and works fine.',
  'Could you tell me when my refund will be processed?',
  'The app is a bit slow today but otherwise okay.',
];
const ANGRY = [
  'This is UNACCEPTABLE. I will file a chargeback and report you to the regulator if this is not fixed today.',
  'Third time I am asking. Cancel my account, I am posting this everywhere and calling my lawyer.',
];

/** The least-squares slope of `value` against time, per hour. */
function slopePerHour(samples: SoakSample[], value: (s: SoakSample) => number): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.t_s / 3600);
  const ys = samples.map(value);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Resident set size of a process in MB, from /proc (Linux). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** One value of a Prometheus text-format metric, or null when the metric is missing. */
function metricValue(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** Runs `fn` every `everyMs` (never two at once) until stopped. */
function paced(everyMs: number, fn: () => Promise<void>) {
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      await fn();
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => {});
  const durationMs = Math.round(opts.minutes * 60_000);
  const sampleEveryMs = Math.max(5_000, Math.min(30_000, Math.round(durationMs / 30)));
  const warmupMs = Math.max(sampleEveryMs, Math.round(durationMs * 0.2));
  const receiver = await startCountingReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'escalatr-soak-'));
  const db = opts.store === 'postgres' ? await createDatabase(opts.databaseUrl!) : null;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const metricsToken = 'soak-metrics-token';
  const env = {
    ...chaosEnv({ dataDir, port, databaseUrl: db?.url }),
    // The soak watches the process, not the limiter: one key sends all of it.
    ESCALATR_RATE_LIMIT_PER_MIN: '1000000',
    ESCALATR_COMPANY_RATE_LIMIT_PER_MIN: '0',
    ESCALATR_COMPANY_SERVING_MS_PER_MIN: '0',
    ESCALATR_COMPANY_BODIES_RECEIVING: '0',
    ESCALATR_COMPANY_CONNECTIONS: '0',
    // The default lease: the chaos scenarios shorten it so killed workers' claims come back within the run, but
    // over half an hour on a busy machine a 5 s lease expires under attempts that are merely slow, and resends.
    ESCALATR_LEASE_MS: '',
    METRICS_TOKEN: metricsToken,
  };
  let serve: Proc | null = null;
  const loops: Array<{ stop(): Promise<void> }> = [];
  try {
    await runCli(['migrate'], env);
    const demo = JSON.parse(await runCli(['demo', '--json'], env));
    const apiKey: string = demo.api_key;
    const auth = { authorization: `Bearer ${apiKey}` };
    serve = startCli(['serve'], env);
    await waitReady(base);
    const pid = serve.child.pid!;
    await createEndpoint(base, apiKey, receiver.url);
    const automation = await fetch(`${base}/api/v1/automations`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'soak alerts',
        active: true,
        filter: { min_level: 'medium' },
        destinations: [{ type: 'webhook', url: receiver.url }],
      }),
    });
    if (automation.status !== 201) throw new Error(`creating the automation failed: ${automation.status}`);

    let requests = 0;
    let errors = 0;
    const errorSamples: string[] = [];
    const latencies: number[] = [];
    const call = async (path: string, init: RequestInit = {}, expect = [200]) => {
      const started = performance.now();
      requests++;
      try {
        const r = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
        const text = await r.text();
        latencies.push(performance.now() - started);
        if (!expect.includes(r.status)) {
          errors++;
          if (errorSamples.length < 20)
            errorSamples.push(`${init.method ?? 'GET'} ${path}: ${r.status} ${text.slice(0, 200)}`);
        }
        return text;
      } catch (err) {
        errors++;
        if (errorSamples.length < 20) errorSamples.push(`${init.method ?? 'GET'} ${path}: ${(err as Error).message}`);
        return '';
      }
    };

    const acknowledged = new Set<string>();
    let filed = 0;
    loops.push(
      paced(WRITE_EVERY_MS, async () => {
        filed++;
        const text = await call(
          '/api/consumer/v1/complaints',
          {
            method: 'POST',
            headers: { authorization: `Bearer ${demo.consumer.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              company_code: demo.company.code,
              complaint_category: 'Soak',
              title: `soak ${filed}`,
              description: 'a complaint filed by the soak to keep a steady trickle of writes going '.repeat(4),
            }),
          },
          [201],
        );
        if (text) {
          try {
            acknowledged.add(JSON.parse(text).data.escalatr_id);
          } catch {
            // counted as an error above
          }
        }
      }),
    );
    const reads = [
      '/api/v1/complaints?limit=20',
      '/api/v1/events?limit=50',
      '/api/v1/deliveries?limit=20',
      '/api/v1/feedback?limit=20',
      '/api/v1/deliveries/stats',
      '/api/v1/automations',
    ];
    let readNo = 0;
    loops.push(paced(READ_EVERY_MS, async () => void (await call(reads[readNo++ % reads.length], { headers: auth }))));
    let recordNo = 0;
    loops.push(
      paced(FEEDBACK_EVERY_MS, async () => {
        const records = Array.from({ length: FEEDBACK_BATCH }, () => {
          const n = recordNo++;
          const angry = n % 5 === 0;
          return {
            id: `soak-${n}`,
            source: 'ZendeskSupport',
            content: angry ? ANGRY[n % ANGRY.length] : CALM[n % CALM.length],
            thread_id: `thread-${n % 200}`,
            customer_id: `customer-${n % 500}`,
          };
        });
        await call(
          '/api/v1/feedback',
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ records }),
          },
          [202],
        );
      }),
    );

    const storeMb = async (): Promise<number> => {
      if (db) {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          const r = await c.query('select pg_database_size(current_database()) as bytes');
          return Math.round(Number(r.rows[0].bytes) / 104857.6) / 10;
        } finally {
          await c.end();
        }
      }
      let bytes = 0;
      for (const f of readdirSync(dataDir)) if (f.startsWith('escalatr.db')) bytes += statSync(join(dataDir, f)).size;
      return Math.round(bytes / 104857.6) / 10;
    };
    const total = async (path: string) => {
      const r = await fetch(`${base}${path}`, { headers: auth });
      return (await r.json()).total as number;
    };
    const samples: SoakSample[] = [];
    const startedAt = Date.now();
    const sample = async () => {
      const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })
        .then((r) => (r.ok ? r.text() : ''))
        .catch(() => '');
      const heap = metricValue(metrics, 'escalatr_nodejs_heap_size_used_bytes');
      const s: SoakSample = {
        t_s: Math.round((Date.now() - startedAt) / 1000),
        rss_mb: rssMb(pid),
        heap_used_mb: heap === null ? null : Math.round(heap / 104857.6) / 10,
        open_fds: openFds(pid),
        active_handles: metricValue(metrics, 'escalatr_nodejs_active_handles_total'),
        store_mb: await storeMb(),
        events: await total('/api/v1/events?limit=1'),
        feedback: await total('/api/v1/feedback?limit=1'),
        requests,
        errors,
        delivered: receiver.received(),
        alerts: [...receiver.alerts.values()].reduce((a, b) => a + b, 0),
      };
      samples.push(s);
      log(
        `t=${s.t_s}s rss=${s.rss_mb}MB heap=${s.heap_used_mb}MB fds=${s.open_fds} handles=${s.active_handles} store=${s.store_mb}MB events=${s.events} feedback=${s.feedback} errors=${s.errors}`,
      );
    };
    await sample();
    while (Date.now() - startedAt < durationMs) {
      await new Promise((r) => setTimeout(r, Math.min(sampleEveryMs, durationMs - (Date.now() - startedAt))));
      await sample();
    }
    await Promise.all(loops.splice(0).map((l) => l.stop()));
    log('load stopped; waiting for deliveries to settle');
    const counts = await settleAndCount(base, apiKey, receiver, acknowledged, 180_000);

    const warm = samples.find((s) => s.t_s * 1000 >= warmupMs) ?? samples[0];
    const last = samples[samples.length - 1];
    const after = samples.filter((x) => x.t_s >= warm.t_s);
    const events = last.events - warm.events;
    const feedback = last.feedback - warm.feedback;
    const storeBytes = (last.store_mb - warm.store_mb) * 1048576;
    const sorted = [...latencies].sort((a, b) => a - b);
    const growth = {
      rss_mb: Math.round((last.rss_mb - warm.rss_mb) * 10) / 10,
      rss_mb_per_hour: Math.round(slopePerHour(after, (x) => x.rss_mb) * 10) / 10,
      rss_range_mb: [Math.min(...after.map((x) => x.rss_mb)), Math.max(...after.map((x) => x.rss_mb))] as [
        number,
        number,
      ],
      heap_used_mb_per_hour: after.some((x) => x.heap_used_mb === null)
        ? null
        : Math.round(slopePerHour(after, (x) => x.heap_used_mb!) * 10) / 10,
      heap_used_mb:
        last.heap_used_mb === null || warm.heap_used_mb === null
          ? null
          : Math.round((last.heap_used_mb - warm.heap_used_mb) * 10) / 10,
      open_fds: last.open_fds - warm.open_fds,
      active_handles:
        last.active_handles === null || warm.active_handles === null ? null : last.active_handles - warm.active_handles,
      store_mb: Math.round((last.store_mb - warm.store_mb) * 10) / 10,
      events,
      feedback,
      store_bytes_per_event: events > 0 ? Math.round(storeBytes / events) : null,
      store_bytes_per_item: events + feedback > 0 ? Math.round(storeBytes / (events + feedback)) : null,
    };
    const problems: string[] = [];
    if (errors > 0) problems.push(`${errors} requests failed`);
    if (counts.lost > 0) problems.push(`${counts.lost} events lost`);
    if (counts.stuck > 0) problems.push(`${counts.stuck} deliveries stuck`);
    // A leak of descriptors or handles shows as steady growth; a few either way is connection churn.
    if (growth.open_fds > 20) problems.push(`open file descriptors grew by ${growth.open_fds} after warm-up`);
    if (growth.active_handles !== null && growth.active_handles > 20)
      problems.push(`active handles grew by ${growth.active_handles} after warm-up`);
    const report: SoakReport = {
      scenario: `soak: serve under mixed load (${opts.store})`,
      store: opts.store,
      minutes: opts.minutes,
      warmup_s: warm.t_s,
      load: {
        writes_per_s: 1000 / WRITE_EVERY_MS,
        reads_per_s: 1000 / READ_EVERY_MS,
        feedback_records_per_s: (FEEDBACK_BATCH * 1000) / FEEDBACK_EVERY_MS,
      },
      samples,
      growth_after_warmup: growth,
      requests,
      errors,
      error_samples: errorSamples,
      latency_ms: {
        p50: Math.round(percentile(sorted, 50) * 10) / 10,
        p99: Math.round(percentile(sorted, 99) * 10) / 10,
        max: Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10,
      },
      deliveries: counts,
      shield_alerts: {
        distinct: receiver.alerts.size,
        duplicated: [...receiver.alerts.values()].reduce((a, b) => a + b, 0) - receiver.alerts.size,
      },
      problems,
    };
    writeFileSync(opts.jsonPath, JSON.stringify(report, null, 2) + '\n');
    return report;
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
    if (serve && serve.child.exitCode === null) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await receiver.close();
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Prints the samples, the growth after warm-up and the verdict. */
export function printSoakReport(report: SoakReport, jsonPath: string): void {
  console.table(
    report.samples.map((s) => ({
      't s': s.t_s,
      'rss MB': s.rss_mb,
      'heap MB': s.heap_used_mb,
      fds: s.open_fds,
      handles: s.active_handles,
      'store MB': s.store_mb,
      events: s.events,
      feedback: s.feedback,
      requests: s.requests,
      errors: s.errors,
    })),
  );
  const g = report.growth_after_warmup;
  console.table([
    {
      'after warm-up (s)': report.warmup_s,
      'rss MB': g.rss_mb,
      'rss MB/h (trend)': g.rss_mb_per_hour,
      'rss range MB': g.rss_range_mb.join('–'),
      'heap MB/h (trend)': g.heap_used_mb_per_hour,
      'heap MB': g.heap_used_mb,
      fds: g.open_fds,
      handles: g.active_handles,
      'store MB': g.store_mb,
      'B/event': g.store_bytes_per_event,
      events: g.events,
      feedback: g.feedback,
    },
  ]);
  const d = report.deliveries;
  console.log(
    `requests ${report.requests} (errors ${report.errors}), latency p50 ${report.latency_ms.p50} ms p99 ${report.latency_ms.p99} ms; ` +
      `events ${d.events}, delivered ${d.delivered}, duplicated ${d.duplicated}, lost ${d.lost}, stuck ${d.stuck}; Shield alerts ${report.shield_alerts.distinct} (duplicated ${report.shield_alerts.duplicated})`,
  );
  for (const e of report.error_samples.slice(0, 5)) console.log(`  error: ${e}`);
  console.log(report.problems.length ? `FAILED: ${report.problems.join('; ')}` : 'OK: the soak passed');
  console.log(`JSON report: ${jsonPath}`);
}
