import { sql } from 'kysely';
import { AppError } from '../errors.js';
import type { Db } from '../storage/db.js';
import { ESCALATION_LEVELS, levelName, type LevelName } from './lifecycle.js';

/**
 * SLA reports over a range of UTC days, one company's complaints only. Everything is computed by SQL that runs the
 * same on SQLite and PostgreSQL (window functions and a recursive day series, no extension): attainment from the
 * level rows decided in the range, times from the complaints answered or resolved in it, and the backlog from the
 * level rows open at each day's end. Times are wall-clock time (elapsed seconds), not business time, so they compare
 * across companies and calendar changes.
 */
export const MAX_REPORT_DAYS = 366;
const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

interface Attainment {
  met: number;
  breached: number;
  /** met / (met + breached) × 100, one decimal; null when no window was decided. */
  percent: number | null;
}

interface Percentiles {
  count: number;
  p50_s: number | null;
  p90_s: number | null;
  p95_s: number | null;
}

export interface SlaReport {
  from: string;
  to: string;
  attainment_by_level: (Attainment & { level: LevelName })[];
  attainment_by_category: (Attainment & { category: string })[];
  first_response: Percentiles;
  resolution: Percentiles;
  backlog: { date: string; by_level: Record<LevelName, number> }[];
}

/** The range's first and last day (inclusive), as epoch ms of their UTC midnights; refused when not a real range. */
function reportRange(from: string, to: string): { start: number; end: number; days: number } {
  const day = (s: string, field: string) => {
    const ms = DATE.test(s) ? Date.parse(`${s}T00:00:00Z`) : NaN;
    if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== s)
      throw new AppError('invalid_range', `${field} is not a date (YYYY-MM-DD)`, { field });
    return ms;
  };
  const start = day(from, 'from');
  const last = day(to, 'to');
  if (last < start) throw new AppError('invalid_range', 'to is before from', { field: 'to' });
  const days = (last - start) / DAY_MS + 1;
  if (days > MAX_REPORT_DAYS)
    throw new AppError('invalid_range', `the range is longer than ${MAX_REPORT_DAYS} days`, {
      field: 'to',
      max_days: MAX_REPORT_DAYS,
    });
  return { start, end: last + DAY_MS, days };
}

const attainment = (met: unknown, breached: unknown): Attainment => {
  const m = Number(met ?? 0);
  const b = Number(breached ?? 0);
  return { met: m, breached: b, percent: m + b === 0 ? null : Math.round((m * 1000) / (m + b)) / 10 };
};

const seconds = (ms: unknown) => (ms === null || ms === undefined ? null : Number(ms) / 1000);

/**
 * Nearest-rank percentiles (the smallest value with at least p% of the values at or below it) of `durations`, a
 * query yielding one column `x` in ms.
 */
async function percentiles(db: Db, durations: ReturnType<typeof sql>): Promise<Percentiles> {
  const { rows } = await sql<{ n: unknown; p50: unknown; p90: unknown; p95: unknown }>`
    with d as (${durations}),
    r as (select x, row_number() over (order by x) as rn, count(*) over () as n from d)
    select count(*) as n,
      min(case when rn * 100 >= 50 * n then x end) as p50,
      min(case when rn * 100 >= 90 * n then x end) as p90,
      min(case when rn * 100 >= 95 * n then x end) as p95
    from r`.execute(db);
  const r = rows[0];
  return { count: Number(r?.n ?? 0), p50_s: seconds(r?.p50), p90_s: seconds(r?.p90), p95_s: seconds(r?.p95) };
}

export async function slaReport(db: Db, companyId: string, from: string, to: string): Promise<SlaReport> {
  const { start, end } = reportRange(from, to);
  const decided = sql`company_id = ${companyId} and decided_at >= ${start} and decided_at < ${end}`;
  const counts = sql`sum(case when outcome = 'met' then 1 else 0 end) as met,
    sum(case when outcome = 'breached' then 1 else 0 end) as breached`;
  const [byLevel, byCategory, firstResponse, resolution, backlog] = await Promise.all([
    sql<{ level: number; met: unknown; breached: unknown }>`
      select level, ${counts} from complaint_levels where ${decided} group by level order by level`.execute(db),
    sql<{ category: string; met: unknown; breached: unknown }>`
      select complaint_category as category, ${counts} from complaint_levels where ${decided}
      group by complaint_category order by complaint_category`.execute(db),
    percentiles(
      db,
      sql`select first_response_at - created_at as x from complaints
        where company_id = ${companyId} and first_response_at >= ${start} and first_response_at < ${end}`,
    ),
    percentiles(
      db,
      sql`select closed_at - created_at as x from complaints
        where company_id = ${companyId} and closed_at >= ${start} and closed_at < ${end} and status = 'Resolved'`,
    ),
    // Open at each day's end: entered before it, not left by it.
    sql<{ d: unknown; level: number; n: unknown }>`
      with recursive days(d) as (
        select cast(${start} as bigint)
        union all select d + ${DAY_MS} from days where d + ${DAY_MS} < ${end}
      )
      select days.d as d, l.level as level, count(*) as n
      from days join complaint_levels l
        on l.company_id = ${companyId} and l.entered_at < days.d + ${DAY_MS}
        and (l.left_at is null or l.left_at >= days.d + ${DAY_MS})
      group by days.d, l.level`.execute(db),
  ]);
  const days: SlaReport['backlog'] = [];
  for (let d = start; d < end; d += DAY_MS) {
    const byLevelCounts = Object.fromEntries(ESCALATION_LEVELS.map((l) => [l, 0])) as Record<LevelName, number>;
    days.push({ date: new Date(d).toISOString().slice(0, 10), by_level: byLevelCounts });
  }
  for (const r of backlog.rows) days[(Number(r.d) - start) / DAY_MS]!.by_level[levelName(r.level)] = Number(r.n);
  return {
    from,
    to,
    attainment_by_level: byLevel.rows.map((r) => ({ level: levelName(r.level), ...attainment(r.met, r.breached) })),
    attainment_by_category: byCategory.rows.map((r) => ({ category: r.category, ...attainment(r.met, r.breached) })),
    first_response: firstResponse,
    resolution,
    backlog: days,
  };
}

const csvCell = (v: string | number | null) => {
  const s = v === null ? '' : String(v);
  // Quoted when it holds a separator or quote; a leading formula character is neutralised for spreadsheets.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === 'string' ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** The report as one long CSV table: section, group, metric, value (one figure a line, easy to pivot). */
export function slaReportCsv(r: SlaReport): string {
  const lines: (string | number | null)[][] = [['section', 'group', 'metric', 'value']];
  for (const a of r.attainment_by_level)
    lines.push(
      ['attainment_by_level', a.level, 'met', a.met],
      ['attainment_by_level', a.level, 'breached', a.breached],
      ['attainment_by_level', a.level, 'percent', a.percent],
    );
  for (const a of r.attainment_by_category)
    lines.push(
      ['attainment_by_category', a.category, 'met', a.met],
      ['attainment_by_category', a.category, 'breached', a.breached],
      ['attainment_by_category', a.category, 'percent', a.percent],
    );
  for (const [section, p] of [
    ['first_response', r.first_response],
    ['resolution', r.resolution],
  ] as const)
    for (const metric of ['count', 'p50_s', 'p90_s', 'p95_s'] as const) lines.push([section, 'all', metric, p[metric]]);
  for (const day of r.backlog)
    for (const level of ESCALATION_LEVELS) lines.push(['backlog', day.date, level, day.by_level[level]]);
  return lines.map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
