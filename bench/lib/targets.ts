/**
 * The targets, as data: each row of the printed table names a metric, how it is shown, and the check that
 * decides pass or miss. A row whose inputs are null (a skipped run) shows "skipped" rather than a verdict.
 */

export type Results = Record<string, number | null>;

interface Row {
  label: string;
  value: (r: Results) => number | null;
  /** The value as shown; `extra` decimals more where the usual ones would round it across its target. */
  format: (v: number, extra?: number) => string;
  target: string;
  /** null: informational, no verdict. */
  pass: ((v: number, r: Results) => boolean) | null;
}

const perS = (v: number) => `${Math.round(v).toLocaleString('en')}/s`;
const ms = (v: number, extra = 0) => `${v.toFixed(1 + extra)} ms`;
const ratio = (v: number, extra = 0) => `${v.toFixed(2 + extra)}×`;
const pct = (v: number, extra = 0) => `${(v * 100).toFixed(1 + extra)}%`;
const us = (v: number) => `${Math.round(v).toLocaleString('en')} µs`;
const div = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

/** Ratios between systems of one run, written into the results under `key`. */
export const RATIOS = [
  { key: 'sqlite_vs_raw', of: 'sqlite_deliveries_per_s', to: 'raw_limit_per_s' },
  { key: 'pg1_vs_bullmq1', of: 'pg1_deliveries_per_s', to: 'bullmq1_deliveries_per_s' },
  { key: 'pg2_vs_bullmq2', of: 'pg2_deliveries_per_s', to: 'bullmq2_deliveries_per_s' },
  { key: 'pg1_vs_graphile1', of: 'pg1_deliveries_per_s', to: 'graphile1_deliveries_per_s' },
  { key: 'pg2_vs_graphile2', of: 'pg2_deliveries_per_s', to: 'graphile2_deliveries_per_s' },
] as const;

/** A ratio as the run wrote it, or computed from its two figures (a results file older than the key). */
const ratioOf = (r: Results, key: (typeof RATIOS)[number]['key']) => {
  const def = RATIOS.find((x) => x.key === key)!;
  return r[key] ?? div(r[def.of] ?? null, r[def.to] ?? null);
};

const ROWS: Row[] = [
  {
    label: 'raw limit (bare senders, 2 processes)',
    value: (r) => r.raw_limit_per_s,
    format: perS,
    target: 'ceiling',
    pass: null,
  },
  { label: '  1 sender process', value: (r) => r.raw1_limit_per_s, format: perS, target: '', pass: null },
  {
    label: 'SQLite deliveries, 1 process',
    value: (r) => r.sqlite_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  ratio to raw limit',
    value: (r) => ratioOf(r, 'sqlite_vs_raw'),
    format: ratio,
    target: '≥ 0.70×',
    pass: (v) => v >= 0.7,
  },
  {
    label: 'ordered per complaint (SQLite)',
    value: (r) => r.ordered_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  same backlog unordered',
    value: (r) => r.ordered_unordered_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: 'PostgreSQL deliveries, 1 worker',
    value: (r) => r.pg1_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  ratio to raw limit',
    value: (r) => div(r.pg1_deliveries_per_s, r.raw_limit_per_s),
    format: ratio,
    target: '',
    pass: null,
  },
  {
    label: 'PostgreSQL deliveries, 2 workers',
    value: (r) => r.pg2_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  ratio to raw limit',
    value: (r) => div(r.pg2_deliveries_per_s, r.raw_limit_per_s),
    format: ratio,
    target: '≥ 0.40×',
    pass: (v) => v >= 0.4,
  },
  {
    label: 'BullMQ (Redis), 1 worker process',
    value: (r) => r.bullmq1_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  PostgreSQL 1 worker / BullMQ 1',
    value: (r) => ratioOf(r, 'pg1_vs_bullmq1'),
    format: ratio,
    target: '≥ 1.25×',
    pass: (v) => v >= 1.25,
  },
  {
    label: 'BullMQ (Redis), 2 worker processes',
    value: (r) => r.bullmq2_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  PostgreSQL 2 workers / BullMQ 2',
    value: (r) => ratioOf(r, 'pg2_vs_bullmq2'),
    format: ratio,
    target: '≥ 1.25×',
    pass: (v) => v >= 1.25,
  },
  {
    label: 'graphile-worker 0.16, 1 worker process',
    value: (r) => r.graphile1_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  PostgreSQL 1 worker / graphile 1',
    value: (r) => ratioOf(r, 'pg1_vs_graphile1'),
    format: ratio,
    target: '',
    pass: null,
  },
  {
    label: 'graphile-worker 0.16, 2 worker processes',
    value: (r) => r.graphile2_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  PostgreSQL 2 workers / graphile 2',
    value: (r) => ratioOf(r, 'pg2_vs_graphile2'),
    format: ratio,
    target: '≥ 3.0×',
    pass: (v) => v >= 3.0,
  },
  {
    label: 'latency p50 (SQLite, 500 events/s)',
    value: (r) => r.latency_p50_ms,
    format: ms,
    target: '≤ 20 ms',
    pass: (v) => v <= 20,
  },
  {
    label: 'latency p99 (SQLite, 500 events/s)',
    value: (r) => r.latency_p99_ms,
    format: ms,
    target: '≤ 100 ms',
    pass: (v) => v <= 100,
  },
  {
    label: 'latency p50 (PostgreSQL, 500 events/s)',
    value: (r) => r.latency_pg_p50_ms,
    format: ms,
    target: '≤ 20 ms',
    pass: (v) => v <= 20,
  },
  {
    label: 'latency p99 (PostgreSQL, 500 events/s)',
    value: (r) => r.latency_pg_p99_ms,
    format: ms,
    target: '≤ 100 ms',
    pass: (v) => v <= 100,
  },
  {
    label: 'isolation: healthy drop, 1 of 10 dead',
    value: (r) => r.isolation_healthy_drop,
    format: pct,
    target: '≤ 10%',
    pass: (v) => v <= 0.1,
  },
  {
    label: 'API list GET /complaints',
    value: (r) => r.api_list_per_s,
    format: perS,
    target: '≥ 3,000/s',
    pass: (v) => v >= 3000,
  },
  {
    label: '  server CPU per request',
    value: (r) => r.api_list_cpu_us_per_request,
    format: us,
    target: '≤ 100 µs',
    pass: (v) => v <= 100,
  },
  {
    label: '  ratio to bare Fastify (same page)',
    value: (r) => r.api_list_vs_bare,
    format: ratio,
    target: '≥ 0.50×',
    pass: (v) => v >= 0.5,
  },
  { label: 'API list p99', value: (r) => r.api_list_p99_ms, format: ms, target: '≤ 20 ms', pass: (v) => v <= 20 },
  {
    label: 'bare Fastify 5, same 25-item page',
    value: (r) => r.api_bare_fastify_per_s,
    format: perS,
    target: 'baseline',
    pass: null,
  },
  {
    label: '  server CPU per request',
    value: (r) => r.api_bare_cpu_us_per_request,
    format: us,
    target: '',
    pass: null,
  },
  { label: 'API feed GET /events', value: (r) => r.api_feed_per_s, format: perS, target: '', pass: null },
  {
    label: '  server CPU per request',
    value: (r) => r.api_feed_cpu_us_per_request,
    format: us,
    target: '',
    pass: null,
  },
  { label: 'API feed p99', value: (r) => r.api_feed_p99_ms, format: ms, target: '≤ 20 ms', pass: (v) => v <= 20 },
  {
    label: 'API list p99, largest / smallest store',
    value: (r) => r.api_list_p99_growth,
    format: ratio,
    target: 'flat (≤ 1.5×)',
    pass: (v) => v <= 1.5,
  },
  {
    label: 'API feed p99, largest / smallest store',
    value: (r) => r.api_feed_p99_growth,
    format: ratio,
    target: 'flat (≤ 1.5×)',
    pass: (v) => v <= 1.5,
  },
  {
    label: 'Shield records scored (20,000 chars each)',
    value: (r) => r.shield_records_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: "API list p99 during another company's Shield flood",
    value: (r) => r.shield_flood_api_p99_ms,
    format: ms,
    target: '≤ 50 ms',
    pass: (v) => v <= 50,
  },
  {
    label: "noisy neighbour: B's p99 (SQLite), A's backlog hanging",
    value: (r) => r.noisy_neighbour_p99_ms,
    format: ms,
    target: '≤ 250 ms',
    pass: (v) => v <= 250,
  },
  {
    label: "noisy neighbour: B's drop vs A idle (SQLite)",
    value: (r) => r.noisy_neighbour_drop,
    format: pct,
    target: '≤ 10%',
    pass: (v) => v <= 0.1,
  },
  {
    label: "noisy neighbour: B's p99 (PostgreSQL, 2 workers)",
    value: (r) => r.noisy_neighbour_pg2_p99_ms,
    format: ms,
    target: '≤ 250 ms',
    pass: (v) => v <= 250,
  },
  {
    label: "noisy neighbour: B's drop vs A idle (PostgreSQL, 2 workers)",
    value: (r) => r.noisy_neighbour_pg2_drop,
    format: pct,
    target: '≤ 10%',
    pass: (v) => v <= 0.1,
  },
  {
    label: 'grown store (PostgreSQL): deliveries/s ÷ fresh',
    value: (r) => r.grown_store_throughput_ratio,
    format: ratio,
    target: '≥ 0.90×',
    pass: (v) => v >= 0.9,
  },
  {
    label: 'grown store (PostgreSQL): list and feed p99 ÷ fresh',
    value: (r) => r.grown_store_api_p99_ratio,
    format: ratio,
    target: '≤ 1.20×',
    pass: (v) => v <= 1.2,
  },
  {
    label: '  its list p99 (10 deliveries an event)',
    value: (r) => r.grown_store_list_p99_ms,
    format: ms,
    target: '≤ 20 ms',
    pass: (v) => v <= 20,
  },
  {
    label: '  its feed p99 (10 deliveries an event)',
    value: (r) => r.grown_store_feed_p99_ms,
    format: ms,
    target: '≤ 20 ms',
    pass: (v) => v <= 20,
  },
  {
    label: 'grown store (SQLite): deliveries/s ÷ fresh',
    value: (r) => r.grown_sqlite_throughput_ratio,
    format: ratio,
    target: '≥ 0.90×',
    pass: (v) => v >= 0.9,
  },
  {
    label: 'grown store (SQLite): list and feed p99 ÷ fresh',
    value: (r) => r.grown_sqlite_api_p99_ratio,
    format: ratio,
    target: '≤ 1.20×',
    pass: (v) => v <= 1.2,
  },
  {
    label: '  its list p99 (10 deliveries an event)',
    value: (r) => r.grown_sqlite_list_p99_ms,
    format: ms,
    target: '≤ 20 ms',
    pass: (v) => v <= 20,
  },
  {
    label: '  its feed p99 (10 deliveries an event)',
    value: (r) => r.grown_sqlite_feed_p99_ms,
    format: ms,
    target: '≤ 20 ms',
    pass: (v) => v <= 20,
  },
  {
    label: 'soak: delivery history growth after warm-up (2-min window)',
    value: (r) => r.soak_store_growth_pct,
    format: pct,
    target: 'flat (≤ 5%)',
    pass: (v) => v <= 0.05,
  },
  {
    label: '  in MB',
    value: (r) => r.soak_store_growth_mb,
    format: (v) => `${v.toFixed(1)} MB`,
    target: '',
    pass: null,
  },
  {
    label: '  complaint records (kept by design), MB',
    value: (r) => r.soak_records_growth_mb,
    format: (v) => `${v.toFixed(1)} MB`,
    target: '',
    pass: null,
  },
  {
    label: 'soak: RSS growth after warm-up',
    value: (r) => r.soak_rss_growth_pct,
    format: pct,
    target: 'flat (≤ 5%)',
    pass: (v) => v <= 0.05,
  },
  {
    label: '  in MB',
    value: (r) => r.soak_rss_growth_mb,
    format: (v) => `${v.toFixed(1)} MB`,
    target: '',
    pass: null,
  },
  {
    label: 'peak RSS, SQLite delivery process',
    value: (r) => r.peak_rss_mb,
    format: (v) => `${Math.round(v)} MB`,
    target: '≤ 250 MB',
    pass: (v) => v <= 250,
  },
  {
    label: 'store bytes per event (10 deliveries)',
    value: (r) => r.store_bytes_per_event,
    format: (v) => `${Math.round(v).toLocaleString('en')} B`,
    target: '',
    pass: null,
  },
];

export interface TableLine {
  metric: string;
  value: string;
  target: string;
  verdict: 'pass' | 'MISS' | 'skipped' | '';
}

/**
 * Results files written before the peers ran at two process counts hold one figure per peer, of one process: read as
 * the one-process figure.
 */
function withLegacyKeys(r: Results): Results {
  return {
    ...r,
    bullmq1_deliveries_per_s: r.bullmq1_deliveries_per_s ?? r.bullmq_deliveries_per_s ?? null,
    graphile1_deliveries_per_s: r.graphile1_deliveries_per_s ?? r.graphile_deliveries_per_s ?? null,
  };
}

/** The number a shown value reads as, in the value's own unit: `1.25×` 1.25, `5,454/s` 5454, `13.8%` 0.138. */
function shownNumber(text: string): number {
  const n = Number(/-?\d+(\.\d+)?/.exec(text.replace(/,/g, ''))?.[0] ?? NaN);
  return text.endsWith('%') ? n / 100 : n;
}

/** The verdicts of a table as one text, to tell whether two sets of values are judged alike (bench/run.ts). */
export const verdictsOf = (results: Results): string =>
  tableLines(results)
    .map((l) => l.verdict)
    .join(',');

export function tableLines(results: Results): TableLine[] {
  const r = withLegacyKeys(results);
  return ROWS.map((row) => {
    const v = row.value(r);
    if (v === null || !Number.isFinite(v))
      return { metric: row.label, value: '—', target: row.target, verdict: row.pass || row.target ? 'skipped' : '' };
    const passes = row.pass?.(v, r);
    let value = row.format(v);
    // A value that the usual digits round across its target (1.24997 as "1.25×" against ≥ 1.25×) gets more digits,
    // so that what is shown agrees with the verdict.
    for (let extra = 1; row.pass && extra <= 6 && row.pass(shownNumber(value), r) !== passes; extra++)
      value = row.format(v, extra);
    const verdict = row.pass ? (passes ? 'pass' : 'MISS') : '';
    return { metric: row.label, value, target: row.target, verdict };
  });
}

export function renderTable(lines: TableLine[]): string {
  const head: TableLine = { metric: 'metric', value: 'value', target: 'target', verdict: '' };
  const all = [head, ...lines];
  const w = (k: keyof TableLine) => Math.max(...all.map((l) => l[k].length));
  const [wm, wv, wt] = [w('metric'), w('value'), w('target')];
  const fmt = (l: TableLine, verdictHead = '') =>
    `${l.metric.padEnd(wm)}  ${l.value.padStart(wv)}  ${l.target.padEnd(wt)}  ${verdictHead || l.verdict}`;
  return [fmt(head, 'pass/miss'), '-'.repeat(wm + wv + wt + 15), ...lines.map((l) => fmt(l))].join('\n');
}

/** The systems whose CPU per delivery a run measures, by the prefix of their keys. */
const CPU_SYSTEMS = [
  { key: 'raw1', label: 'raw limit, 1 sender process', store: '—' },
  { key: 'raw', label: 'raw limit, 2 sender processes', store: '—' },
  { key: 'sqlite', label: 'SQLite, 1 process', store: 'in worker' },
  { key: 'pg1', label: 'PostgreSQL, 1 worker', store: null },
  { key: 'pg2', label: 'PostgreSQL, 2 workers', store: null },
  { key: 'bullmq1', label: 'BullMQ, 1 worker process', store: null },
  { key: 'bullmq2', label: 'BullMQ, 2 worker processes', store: null },
  { key: 'graphile1', label: 'graphile-worker, 1 worker process', store: null },
  { key: 'graphile2', label: 'graphile-worker, 2 worker processes', store: null },
] as const;

export interface CpuLine {
  system: string;
  worker: string;
  store: string;
  receiver: string;
  total: string;
}

export const CPU_HEAD: CpuLine = {
  system: 'CPU µs per delivery',
  worker: 'workers',
  store: 'store server',
  receiver: 'receiver',
  total: 'total',
};

/** One row per system: microseconds of CPU per delivery of its worker processes, its store's server, the receiver. */
export function cpuLines(r: Results): CpuLine[] {
  const us = (key: string) => {
    const v = r[key];
    return v === null || v === undefined ? '—' : `${Math.round(v)}`;
  };
  return CPU_SYSTEMS.map((s) => {
    const k = (part: string) => `${s.key}_cpu_us_per_delivery_${part}`;
    return {
      system: s.label,
      worker: us(k('worker')),
      store: s.store ?? us(k('store')),
      receiver: us(k('receiver')),
      total: us(k('total')),
    };
  });
}

export function renderCpuTable(lines: CpuLine[]): string {
  const cols: Array<keyof CpuLine> = ['system', 'worker', 'store', 'receiver', 'total'];
  const all = [CPU_HEAD, ...lines];
  const w = Object.fromEntries(cols.map((c) => [c, Math.max(...all.map((l) => l[c].length))]));
  const fmt = (l: CpuLine) => cols.map((c) => (c === 'system' ? l[c].padEnd(w[c]) : l[c].padStart(w[c]))).join('  ');
  const width = cols.reduce((n, c) => n + w[c] + 2, -2);
  return [fmt(CPU_HEAD), '-'.repeat(width), ...lines.map(fmt)].join('\n');
}
