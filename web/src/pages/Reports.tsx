import { useEffect } from 'preact/hooks';
import { api, query } from '../api';
import { TextField } from '../components/Field';
import { Notice } from '../components/Notice';
import { StackedBars } from '../components/StackedBars';
import { useAsync } from '../hooks';
import { setSearch, useLocation } from '../router';
import type { SlaReport } from '../types';

const DAY_MS = 86_400_000;
const LEVEL_COLORS = [
  '#2b59c3',
  '#2f9e6b',
  '#e0a43a',
  '#c8463c',
  '#7b4cc2',
  '#178a9a',
  '#b8578c',
  '#6b7a1f',
  '#4a5568',
];
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Seconds as the largest whole units that read well: 45 s, 12 min, 3.5 h, 2.1 d. */
function duration(s: number | null): string {
  if (s === null) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} d`;
}

const percent = (p: number | null) => (p === null ? '—' : `${p}%`);

/** Reports → SLA: attainment, response and resolution times, and the backlog, for a range of days (in the URL). */
export function ReportsPage() {
  const { search } = useLocation();
  const today = Date.now();
  const from = search.get('from') ?? day(today - 29 * DAY_MS);
  const to = search.get('to') ?? day(today);
  useEffect(() => {
    document.title = 'Reports · Escalatr';
  }, []);
  const report = useAsync(() => api.get<SlaReport>(`/api/v1/reports/sla${query({ from, to })}`), [from, to]);
  const r = report.data;
  const levelsSeen = r
    ? r.backlog[0]
      ? (Object.keys(r.backlog[0].by_level) as (keyof SlaReport['backlog'][number]['by_level'])[]).filter((l) =>
          r.backlog.some((d) => d.by_level[l] > 0),
        )
      : []
    : [];

  return (
    <section class="page reports-page" aria-labelledby="reports-title">
      <div class="page-head">
        <h1 id="reports-title">Reports</h1>
        <a class="btn" href={`/api/v1/reports/sla.csv${query({ from, to })}`} download>
          Download CSV
        </a>
      </div>
      <p class="muted">
        SLA figures for your company over whole days (UTC). Times are wall-clock time from filing, not business hours.
      </p>
      <form class="filters" aria-label="Report range" onSubmit={(e) => e.preventDefault()}>
        <TextField label="From" type="date" value={from} onValue={(v) => v && setSearch({ from: v })} />
        <TextField label="To" type="date" value={to} onValue={(v) => v && setSearch({ to: v })} />
      </form>
      {report.error && <Notice kind="error">{report.error}</Notice>}
      {!r && !report.error && <p class="muted">Loading…</p>}
      {r && (
        <>
          <div class="card">
            <h2>SLA attainment by level</h2>
            {r.attainment_by_level.length === 0 ? (
              <p class="muted">No response window ended in this range.</p>
            ) : (
              <StackedBars
                title="Response windows by level"
                bars={r.attainment_by_level.map((a) => ({ label: a.level, values: [a.met, a.breached] }))}
                series={[
                  { label: 'met', color: '#2f9e6b' },
                  { label: 'breached', color: '#c8463c' },
                ]}
              />
            )}
            <table class="table" aria-label="Attainment by level and category">
              <thead>
                <tr>
                  <th scope="col">Level or category</th>
                  <th scope="col">Met</th>
                  <th scope="col">Breached</th>
                  <th scope="col">Attainment</th>
                </tr>
              </thead>
              <tbody>
                {[
                  ...r.attainment_by_level.map((a) => ({ ...a, name: a.level })),
                  ...r.attainment_by_category.map((a) => ({ ...a, name: a.category })),
                ].map((a) => (
                  <tr key={a.name}>
                    <th scope="row">{a.name}</th>
                    <td>{a.met}</td>
                    <td>{a.breached}</td>
                    <td>{percent(a.percent)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="card">
            <h2>Response and resolution times</h2>
            <table class="table" aria-label="Time percentiles">
              <thead>
                <tr>
                  <th scope="col" />
                  <th scope="col">Complaints</th>
                  <th scope="col">Median</th>
                  <th scope="col">90th percentile</th>
                  <th scope="col">95th percentile</th>
                </tr>
              </thead>
              <tbody>
                {(
                  [
                    ['First response', r.first_response],
                    ['Resolution', r.resolution],
                  ] as const
                ).map(([name, p]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>{p.count}</td>
                    <td>{duration(p.p50_s)}</td>
                    <td>{duration(p.p90_s)}</td>
                    <td>{duration(p.p95_s)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="card">
            <h2>Backlog by level</h2>
            <p class="muted small">Complaints open at the end of each day, by the level they were at.</p>
            <StackedBars
              title="Open complaints per day"
              bars={r.backlog.map((d) => ({ label: d.date.slice(5), values: levelsSeen.map((l) => d.by_level[l]) }))}
              series={levelsSeen.map((l) => ({ label: l, color: LEVEL_COLORS[Number(l.slice(1)) - 1] }))}
            />
          </div>
        </>
      )}
    </section>
  );
}
