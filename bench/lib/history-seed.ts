import { sql, type RawBuilder } from 'kysely';
import { historyClass } from '../../src/domain/retention.js';
import type { Store } from '../../src/storage/db.js';
import { ATTEMPT_HISTORY, DELIVERY_HISTORY, maintainHistoryPartitions } from '../../src/storage/history-partitions.js';
import { epochMs } from './time.js';

/**
 * Years of delivery history in seconds: settled deliveries with their attempt rows, their events in the feed and the
 * complaints those events belong to, written by set-based INSERT … SELECT statements (generate_series on PostgreSQL,
 * a recursive CTE on SQLite) through each table's own name, so it works whatever the table is underneath (a plain
 * table or a partitioned parent) and every index and trigger is maintained as the domain's writes maintain it.
 *
 * The rows have the domain's shapes; an event's body is compact JSON with writeEvent's keys in its order, as the
 * product stores it, so the feed serves it as it is. Per company, complaints are filed one after another over `days`
 * days ending an hour ago; each has two events (`complaint.created`, then `message.new`), each event one delivery per
 * endpoint of the company. A delivery settles at its first attempt 11 times in 20; 5 in 20 succeed at the second
 * attempt (one 500 first), 3 in 20 at the third, and 1 in 20 is dead after five 500s — 1.85 attempts per delivery,
 * retries five minutes apart. Ids sort by time as the product's own do (and below every id made now), so live traffic
 * appends at the right edge of each index exactly as it would after years of service. Each company's sequences
 * (complaint and event numbers) move past the seeded rows.
 */

interface HistoryCompany {
  companyId: string;
  code: string;
  consumerId: string;
  endpointIds: string[];
}

export interface HistoryPlan {
  companies: HistoryCompany[];
  /** Attempt rows to add across all companies (the total is reached within one chunk of events). */
  attempts: number;
  days: number;
}

const ATTEMPTS_PER_DELIVERY = 37 / 20;
/** Events per statement: each chunk is one statement per table, its own transaction. */
const CHUNK_EVENTS = 20_000;
const HOUR_MS = 3_600_000;
const RETRY_MS = 300_000;
const CATEGORIES = ['Billing', 'Delivery', 'Refund', 'Product quality', 'Service'];
const PRIORITIES = ['low', 'medium', 'medium', 'high', 'critical'];
const STATUSES = ['Resolved', 'Resolved', 'Resolved', 'Withdrawn', 'Open', 'Escalated'];

export interface HistorySeedResult {
  events: number;
  complaints: number;
  deliveries: number;
  attempts: number;
  ms: number;
  /** Of `ms`, the time spent leaving the store as a long-lived one would be (vacuum, statistics, checkpoint). */
  settle_ms: number;
}

/** Writes the history; `log` is told after each company. */
export async function seedHistory(
  store: Store,
  plan: HistoryPlan,
  log: (line: string) => void = () => undefined,
): Promise<HistorySeedResult> {
  const startedAt = epochMs();
  const pg = store.profile.name !== 'sqlite';
  const fanout = plan.companies[0].endpointIds.length;
  const eventsTotal = Math.ceil(plan.attempts / ATTEMPTS_PER_DELIVERY / fanout);
  // Whole complaints (two events each) per company.
  const perCompany = 2 * Math.ceil(eventsTotal / plan.companies.length / 2);
  const end = Date.now() - HOUR_MS;
  const step = Math.max(1, Math.floor((plan.days * 24 * HOUR_MS) / perCompany));
  const start = end - perCompany * step;
  // The spans the history falls in, made first as the retention step keeps them: rows land in their partitions, not
  // in their class's default partition.
  if (pg)
    for (const table of [ATTEMPT_HISTORY, DELIVERY_HISTORY]) await maintainHistoryPartitions(store.db, end, [], table);
  const seedCompany = async (c: number, company: HistoryCompany) => {
    const seqs = await store.db
      .selectFrom('companies')
      .select(['complaint_seq', 'event_seq', 'plan', 'retention_days', 'retention_minutes'])
      .where('id', '=', company.companyId)
      .executeTakeFirstOrThrow();
    // Attempt rows carry their company's retention class (on PostgreSQL, the partition they land in), as the
    // worker writes them; the class is set now rather than at the retention step's first run.
    const keepDays = historyClass(seqs);
    await store.db
      .updateTable('companies')
      .set({ history_class: keepDays })
      .where('id', '=', company.companyId)
      .execute();
    if (Number(seqs.event_seq) !== 0 || Number(seqs.complaint_seq) !== 0)
      throw new Error(`company ${company.code} has events already: history is seeded before any traffic`);
    for (let from = 1; from <= perCompany; from += CHUNK_EVENTS) {
      const to = Math.min(perCompany, from + CHUNK_EVENTS - 1);
      const v: ChunkVars = { c: c + 1, from, to, start, step, fanout, company, keepDays };
      for (const statement of pg ? pgChunk(v) : sqliteChunk(v)) await statement.execute(store.db);
    }
    await store.db
      .updateTable('companies')
      .set({ complaint_seq: perCompany / 2, event_seq: perCompany })
      .where('id', '=', company.companyId)
      .execute();
    log(`history: company ${company.code} has ${perCompany.toLocaleString('en')} events`);
  };
  // PostgreSQL: two companies at a time, one backend each (an INSERT … SELECT runs on one core). SQLite has one
  // writer, so one at a time.
  const lanes = pg ? 2 : 1;
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < plan.companies.length) {
        const c = next++;
        await seedCompany(c, plan.companies[c]);
      }
    }),
  );
  // A PostgreSQL store years old has been vacuumed and checkpointed many times over: its settled rows are
  // all-visible with their hint bits set, its statistics fresh, and no gigabytes of freshly written pages wait to be
  // flushed. A bulk load measured at once is none of that (and autovacuum may be off, as on CI machines), so the seed
  // ends as autovacuum and the checkpointer would have left it. A SQLite store never gathers statistics in service
  // (the store drops per-value ones when it opens: src/storage/db.ts), so none are gathered here either.
  const settledAt = epochMs();
  if (pg) {
    await sql`vacuum (analyze)`.execute(store.db);
    await sql`checkpoint`.execute(store.db);
  }
  const events = perCompany * plan.companies.length;
  return {
    events,
    complaints: events / 2,
    deliveries: events * fanout,
    attempts: Math.round(events * fanout * ATTEMPTS_PER_DELIVERY),
    ms: epochMs() - startedAt,
    settle_ms: epochMs() - settledAt,
  };
}

interface ChunkVars {
  /** 1-based company number: part of every seeded id. */
  c: number;
  from: number;
  to: number;
  start: number;
  step: number;
  fanout: number;
  company: HistoryCompany;
  /** The company's retention class (companies.history_class), written into each delivery and attempt row. */
  keepDays: number;
}

const lit = (v: string | number) => sql.lit(v);

/**
 * One chunk of events on PostgreSQL. `h` = (i·fanout + j) mod 20 picks a delivery's fate (see above); ids are
 * `prefix_0` + 19 digits of (company, event, endpoint, attempt), which sort below the product's time-based ids.
 */
function pgChunk(v: ChunkVars): RawBuilder<unknown>[] {
  const at = (i: string) => sql.raw(`(${v.start}::bigint + ${i}::bigint * ${v.step})`);
  const evt = sql.raw(`'evt_0' || lpad((${v.c}::bigint * 1000000000 + i)::text, 19, '0')`);
  const esc = (k: string, t: string) =>
    sql.raw(
      `'ESC-${v.company.code}-' || to_char(to_timestamp(${t} / 1000.0) at time zone 'UTC', 'YYMMDD') || '-' || ` +
        `case when ${k} < 100000 then lpad(${k}::text, 5, '0') else ${k}::text end`,
    );
  const iso = (t: string) =>
    sql.raw(`to_char(to_timestamp(${t} / 1000.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  const arr = (xs: string[]) => sql.raw(`(array[${xs.map((x) => `'${x}'`).join(', ')}])`);
  const series = sql.raw(`generate_series(${v.from}, ${v.to}) as i`);
  const endpoints = sql.raw(
    `unnest(array[${v.company.endpointIds.map((e) => `'${e}'`).join(', ')}]) with ordinality as e(endpoint_id, j)`,
  );
  const h = sql.raw(`((i * ${v.fanout} + j) % 20)`);
  const cnt = sql`(case when ${h} = 0 then 5 when ${h} <= 4 then 3 when ${h} <= 9 then 2 else 1 end)`;
  const dlv = sql.raw(`(((${v.c}::bigint * 1000000000 + i) * 100 + j))`);
  return [
    sql`insert into complaints (escalatr_id, company_id, consumer_id, complaint_category, title, description, status,
      stage, level, priority, amount_involved, currency, sla_due_at, resolution_type, amount_recovered, withdraw_reason,
      created_at, updated_at)
      select ${esc('k', 't')}, ${v.company.companyId}, ${v.company.consumerId}, ${arr(CATEGORIES)}[1 + k % 5],
        'Charged twice', 'The March invoice was charged twice to my card.', s,
        case s when 'Open' then 'Intake' when 'Escalated' then 'Escalation' else 'Closure' end,
        case s when 'Escalated' then 2 + k % 8 else 1 end, ${arr(PRIORITIES)}[1 + k % 5], 120.5, 'USD',
        t + 72 * 3600000, case s when 'Resolved' then 'refund' end, case s when 'Resolved' then 120.5 end,
        case s when 'Withdrawn' then 'resolved_elsewhere' end, t, t + ${lit(v.step)}
      from (select k, ${at('(2 * k - 1)')} as t, ${arr(STATUSES)}[1 + k % 6] as s
            from generate_series(${lit((v.from + 1) / 2)}, ${lit(v.to / 2)}) as k) x`,
    sql`insert into events (id, company_id, seq, name, complaint_id, body, delivery_status, created_at)
      select ${evt}, ${v.company.companyId}, i, n, ${esc('k', 'ct')},
        '{"id":' || to_json(${evt}) || ',"event":' || to_json(n) || ',"timestamp":' || to_json(${iso('t')}) ||
          ',"data":{"escalatr_id":' || to_json(${esc('k', 'ct')}) || ',"status":"Open","escalation_level":"L1"' ||
          ',"complaint_category":' || to_json(${arr(CATEGORIES)}[1 + k % 5]) ||
          ',"priority":' || to_json(${arr(PRIORITIES)}[1 + k % 5]) || '}}',
        case when (i * ${v.fanout} + ${v.fanout}) / 20 > (i * ${v.fanout}) / 20 then 'dead' else 'success' end, t
      from (select i, (i + 1) / 2 as k, ${at('i')} as t, ${at('(2 * ((i + 1) / 2) - 1)')} as ct,
              case i % 2 when 1 then 'complaint.created' else 'message.new' end as n
            from ${series}) x`,
    sql`insert into deliveries (id, company_id, event_id, endpoint_id, destination_id, target, status, attempt_count,
      sequence_start, next_attempt_at, lease_until, lease_owner, idempotency_key, last_status_code, last_error,
      created_at, updated_at, keep_days)
      select 'dlv_0' || lpad(${dlv}::text, 19, '0'), ${v.company.companyId}, ${evt}, endpoint_id, null, 'endpoint',
        case when ${h} = 0 then 'dead' else 'success' end, ${cnt}, 0, null, null, null, ${evt} || ':' || endpoint_id,
        case when ${h} = 0 then 500 else 200 end, case when ${h} = 0 then 'HTTP 500' end,
        ${at('i')}, ${at('i')} + (${cnt} - 1) * ${lit(RETRY_MS)} + 120, ${lit(v.keepDays)}
      from ${series}, ${endpoints}`,
    sql`insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms, status_code, error_kind,
      error_message, response_excerpt, keep_days, event_id)
      select 'att_0' || lpad((${dlv} * 10 + n)::text, 19, '0'), 'dlv_0' || lpad(${dlv}::text, 19, '0'),
        ${v.company.companyId}, n, ${at('i')} + (n - 1) * ${lit(RETRY_MS)} + 20, 20 + (i * 7 + j * 13 + n) % 180,
        case when n = ${cnt} and ${h} <> 0 then 200 else 500 end,
        case when n = ${cnt} and ${h} <> 0 then null else 'http_status' end,
        case when n = ${cnt} and ${h} <> 0 then null else 'The endpoint answered HTTP 500' end,
        case when n = ${cnt} and ${h} <> 0 then '{"received":true}' else 'Internal Server Error' end, ${lit(v.keepDays)},
        ${evt}
      from ${series}, ${endpoints}, generate_series(1, ${cnt}) as n`,
  ];
}

/** The same chunk on SQLite: a recursive CTE for the series, json_each for the endpoints. */
function sqliteChunk(v: ChunkVars): RawBuilder<unknown>[] {
  const at = (i: string) => sql.raw(`(${v.start} + (${i}) * ${v.step})`);
  const evt = sql.raw(`('evt_0' || printf('%019d', ${v.c} * 1000000000 + i))`);
  const esc = (k: string, t: string) =>
    sql.raw(
      `('ESC-${v.company.code}-' || substr(strftime('%Y%m%d', ${t} / 1000, 'unixepoch'), 3) || '-' || printf('%05d', ${k}))`,
    );
  const iso = (t: string) => sql.raw(`strftime('%Y-%m-%dT%H:%M:%fZ', ${t} / 1000.0, 'unixepoch')`);
  const pick = (xs: string[], k: string) =>
    sql.raw(`(case ${k} % ${xs.length} ${xs.map((x, n) => `when ${n} then '${x}'`).join(' ')} end)`);
  const series = (from: number, to: number, name: string) =>
    sql.raw(`with recursive s(${name}) as (select ${from} union all select ${name} + 1 from s where ${name} < ${to})`);
  const endpoints = sql.raw(
    `(select value as endpoint_id, key + 1 as j from json_each('${JSON.stringify(v.company.endpointIds)}')) e`,
  );
  const h = sql.raw(`((i * ${v.fanout} + j) % 20)`);
  const cnt = sql`(case when ${h} = 0 then 5 when ${h} <= 4 then 3 when ${h} <= 9 then 2 else 1 end)`;
  const dlv = sql.raw(`((${v.c} * 1000000000 + i) * 100 + j)`);
  const ok = sql`(n = ${cnt} and ${h} <> 0)`;
  return [
    sql`${series((v.from + 1) / 2, v.to / 2, 'k')}
      insert into complaints (escalatr_id, company_id, consumer_id, complaint_category, title, description, status,
      stage, level, priority, amount_involved, currency, sla_due_at, resolution_type, amount_recovered, withdraw_reason,
      created_at, updated_at)
      select ${esc('k', 't')}, ${v.company.companyId}, ${v.company.consumerId}, ${pick(CATEGORIES, 'k')},
        'Charged twice', 'The March invoice was charged twice to my card.', st,
        case st when 'Open' then 'Intake' when 'Escalated' then 'Escalation' else 'Closure' end,
        case st when 'Escalated' then 2 + k % 8 else 1 end, ${pick(PRIORITIES, 'k')}, 120.5, 'USD',
        t + 72 * 3600000, case st when 'Resolved' then 'refund' end, case st when 'Resolved' then 120.5 end,
        case st when 'Withdrawn' then 'resolved_elsewhere' end, t, t + ${lit(v.step)}
      from (select k, ${at('2 * k - 1')} as t, ${pick(STATUSES, 'k')} as st from s)`,
    sql`${series(v.from, v.to, 'i')}
      insert into events (id, company_id, seq, name, complaint_id, body, delivery_status, created_at)
      select ${evt}, ${v.company.companyId}, i, n, ${esc('k', 'ct')},
        json_object('id', ${evt}, 'event', n, 'timestamp', ${iso('t')}, 'data',
          json_object('escalatr_id', ${esc('k', 'ct')}, 'status', 'Open', 'escalation_level', 'L1',
            'complaint_category', ${pick(CATEGORIES, 'k')}, 'priority', ${pick(PRIORITIES, 'k')})),
        case when (i * ${v.fanout} + ${v.fanout}) / 20 > (i * ${v.fanout}) / 20 then 'dead' else 'success' end, t
      from (select i, (i + 1) / 2 as k, ${at('i')} as t, ${at('2 * ((i + 1) / 2) - 1')} as ct,
              case i % 2 when 1 then 'complaint.created' else 'message.new' end as n from s)`,
    sql`${series(v.from, v.to, 'i')}
      insert into deliveries (id, company_id, event_id, endpoint_id, destination_id, target, status, attempt_count,
      sequence_start, next_attempt_at, lease_until, lease_owner, idempotency_key, last_status_code, last_error,
      created_at, updated_at, keep_days)
      select 'dlv_0' || printf('%019d', ${dlv}), ${v.company.companyId}, ${evt}, endpoint_id, null, 'endpoint',
        case when ${h} = 0 then 'dead' else 'success' end, ${cnt}, 0, null, null, null, ${evt} || ':' || endpoint_id,
        case when ${h} = 0 then 500 else 200 end, case when ${h} = 0 then 'HTTP 500' end,
        ${at('i')}, ${at('i')} + (${cnt} - 1) * ${lit(RETRY_MS)} + 120, ${lit(v.keepDays)}
      from s, ${endpoints}`,
    sql`${series(v.from, v.to, 'i')}, a(n) as (select 1 union all select n + 1 from a where n < 5)
      insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms, status_code, error_kind,
      error_message, response_excerpt, keep_days, event_id)
      select 'att_0' || printf('%019d', ${dlv} * 10 + n), 'dlv_0' || printf('%019d', ${dlv}),
        ${v.company.companyId}, n, ${at('i')} + (n - 1) * ${lit(RETRY_MS)} + 20, 20 + (i * 7 + j * 13 + n) % 180,
        case when ${ok} then 200 else 500 end, case when ${ok} then null else 'http_status' end,
        case when ${ok} then null else 'The endpoint answered HTTP 500' end,
        case when ${ok} then '{"received":true}' else 'Internal Server Error' end, ${lit(v.keepDays)}, ${evt}
      from s, ${endpoints}, a where n <= ${cnt}`,
  ];
}
