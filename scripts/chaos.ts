import { runCrashScenario, type CrashReport } from './chaos/crash-scenario.js';
import { runSqliteFullScenario } from './chaos/sqlite-full-scenario.js';
import { runPgRestartScenario } from './chaos/pg-restart-scenario.js';
import type { StoreFaultReport } from './chaos/load.js';

/**
 * `npm run chaos [-- --quick]`: crash-safety and store-fault scenarios against real processes. Prints, per scenario,
 * the events sent, delivered, duplicated, lost (must be 0) and stuck (must be 0); exits non-zero if any is lost or
 * stuck, or a store fault was not reported, not recovered from, or answered with anything but 201/503.
 * The PostgreSQL restart restarts the machine's server, so only the full profile runs it.
 */
const quick = process.argv.includes('--quick');
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1/postgres';
const log = (line: string) => process.stdout.write(`  ${line}\n`);

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
