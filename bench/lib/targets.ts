/**
 * The targets, as data: each row of the printed table names a metric, how it is shown, and the check that
 * decides pass or miss. A row whose inputs are null (a skipped run) shows "skipped" rather than a verdict.
 */

export type Results = Record<string, number | null>;

interface Row {
  label: string;
  value: (r: Results) => number | null;
  format: (v: number) => string;
  target: string;
  /** null: informational, no verdict. */
  pass: ((v: number, r: Results) => boolean) | null;
}

const perS = (v: number) => `${Math.round(v).toLocaleString('en')}/s`;
const ms = (v: number) => `${v.toFixed(1)} ms`;
const ratio = (v: number) => `${v.toFixed(2)}×`;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const us = (v: number) => `${Math.round(v).toLocaleString('en')} µs`;
const div = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

const ROWS: Row[] = [
  { label: 'raw limit (bare sender)', value: (r) => r.raw_limit_per_s, format: perS, target: 'ceiling', pass: null },
  { label: 'SQLite deliveries', value: (r) => r.sqlite_deliveries_per_s, format: perS, target: '', pass: null },
  {
    label: '  ratio to raw limit',
    value: (r) => div(r.sqlite_deliveries_per_s, r.raw_limit_per_s),
    format: ratio,
    target: '≥ 0.50×',
    pass: (v) => v >= 0.5,
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
    label: 'BullMQ (Redis), concurrency 64',
    value: (r) => r.bullmq_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  PostgreSQL 2 workers / BullMQ',
    value: (r) => div(r.pg2_deliveries_per_s, r.bullmq_deliveries_per_s),
    format: ratio,
    target: '≥ 1.0×',
    pass: (v) => v >= 1.0,
  },
  {
    label: '  PostgreSQL 1 worker / BullMQ',
    value: (r) => div(r.pg1_deliveries_per_s, r.bullmq_deliveries_per_s),
    format: ratio,
    target: '',
    pass: null,
  },
  {
    label: 'graphile-worker 0.16, concurrency 64',
    value: (r) => r.graphile_deliveries_per_s,
    format: perS,
    target: '',
    pass: null,
  },
  {
    label: '  PostgreSQL 2 workers / graphile',
    value: (r) => div(r.pg2_deliveries_per_s, r.graphile_deliveries_per_s),
    format: ratio,
    target: '≥ 3.0×',
    pass: (v) => v >= 3.0,
  },
  {
    label: '  PostgreSQL 1 worker / graphile',
    value: (r) => div(r.pg1_deliveries_per_s, r.graphile_deliveries_per_s),
    format: ratio,
    target: '',
    pass: null,
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

export function tableLines(r: Results): TableLine[] {
  return ROWS.map((row) => {
    const v = row.value(r);
    if (v === null || !Number.isFinite(v))
      return { metric: row.label, value: '—', target: row.target, verdict: row.pass || row.target ? 'skipped' : '' };
    const verdict = row.pass ? (row.pass(v, r) ? 'pass' : 'MISS') : '';
    return { metric: row.label, value: row.format(v), target: row.target, verdict };
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
