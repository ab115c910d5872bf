import { runCrashScenario, type CrashReport } from './chaos/crash-scenario.js';
import { runSqliteFullScenario } from './chaos/sqlite-full-scenario.js';
import { runPgRestartScenario } from './chaos/pg-restart-scenario.js';
import type { StoreFaultReport } from './chaos/load.js';
import { parseArgs } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSoak } from './chaos/soak.js';

/**
 * `npm run chaos [-- --quick]`: crash-safety and store-fault scenarios against real processes. Prints, per scenario,
 * the events sent, delivered, duplicated, lost (must be 0) and stuck (must be 0); exits non-zero if any is lost or
 * stuck, or a store fault was not reported, not recovered from, or answered with anything but 201/503.
 * The PostgreSQL restart restarts the machine's server, so only the full profile runs it.
 */
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '30' },
    'soak-store': { type: 'string', default: 'sqlite' },
    'soak-json': { type: 'string' },
  },
});
const quick = args.quick;
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1/postgres';
const log = (line: string) => process.stdout.write(`  ${line}\n`);

if (args.soak) {
  const minutes = Number(args['soak-minutes']);
  const store = args['soak-store'];
  if (!(minutes > 0) || (store !== 'sqlite' && store !== 'postgres')) {
    console.error(
      'usage: npm run chaos -- --soak [--soak-minutes N] [--soak-store sqlite|postgres] [--soak-json FILE]',
    );
    process.exit(2);
  }
  const jsonPath =
    args['soak-json'] ?? join(tmpdir(), `escalatr-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  console.log(`soak: ${minutes} min on ${store}; report in ${jsonPath}`);
  const report = await runSoak({ minutes, store, databaseUrl, jsonPath, log });
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
      'rss MB/h': g.rss_mb_per_hour,
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
      `events ${d.events}, delivered ${d.delivered}, duplicated ${d.duplicated}, lost ${d.lost}, stuck ${d.stuck}; Shield alerts ${report.shield_alerts}`,
  );
  for (const e of report.error_samples.slice(0, 5)) console.log(`  error: ${e}`);
  console.log(report.problems.length ? `FAILED: ${report.problems.join('; ')}` : 'OK: the soak passed');
  console.log(`JSON report: ${jsonPath}`);
  process.exit(report.problems.length ? 1 : 0);
}

const reports: CrashReport[] = [];
reports.push(await runCrashScenario({ dialect: 'sqlite', kills: quick ? 2 : 5, intervalMs: quick ? 1500 : 3000, log }));
reports.push(
  await runCrashScenario({
    dialect: 'postgres',
    kills: quick ? 2 : 5,
    intervalMs: quick ? 1500 : 3000,
    databaseUrl,
    log,
  }),
);

const faults: Array<StoreFaultReport & { server_survived?: boolean }> = [];
faults.push(await runSqliteFullScenario({ phaseMs: quick ? 1000 : 2500, log }));
if (!quick) faults.push(await runPgRestartScenario({ databaseUrl, phaseMs: 3000, log }));

console.table(
  reports.map((r) => ({
    scenario: r.scenario,
    kills: r.kills,
    sent: r.sent,
    acknowledged: r.acknowledged,
    events: r.events,
    delivered: r.delivered,
    duplicated: r.duplicated,
    lost: r.lost,
    stuck: r.stuck,
  })),
);
console.table(
  faults.map((r) => ({
    scenario: r.scenario,
    sent: r.sent,
    acknowledged: r.acknowledged,
    'refused 503': r.refused_503,
    'other errors': r.other_errors,
    events: r.events,
    delivered: r.delivered,
    duplicated: r.duplicated,
    lost: r.lost,
    stuck: r.stuck,
    'not ready seen': r.went_not_ready,
    recovered: r.recovered,
    'recovery s': r.recovery_s,
  })),
);
const bad = [
  ...reports.filter((r) => r.lost > 0 || r.stuck > 0).map((r) => r.scenario),
  ...faults
    .filter(
      (r) =>
        r.lost > 0 ||
        r.stuck > 0 ||
        r.other_errors > 0 ||
        !r.went_not_ready ||
        !r.recovered ||
        r.server_survived === false,
    )
    .map((r) => r.scenario),
];
console.log(
  bad.length
    ? `FAILED: ${bad.join('; ')}`
    : 'OK: nothing lost, nothing stuck, every store fault reported and recovered from',
);
process.exit(bad.length ? 1 : 0);
