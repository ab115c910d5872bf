import { runCrashScenario, type CrashReport } from './chaos/crash-scenario.js';

/**
 * `npm run chaos [-- --quick]`: crash-safety scenarios against real processes. Prints, per scenario, the events
 * sent, delivered, duplicated, lost (must be 0) and stuck (must be 0); exits non-zero if any is lost or stuck.
 */
const quick = process.argv.includes('--quick');
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1/postgres';
const log = (line: string) => process.stdout.write(`  ${line}\n`);

const reports: CrashReport[] = [];
reports.push(await runCrashScenario({ dialect: 'sqlite', kills: quick ? 2 : 5, intervalMs: quick ? 1500 : 3000, log }));
reports.push(await runCrashScenario({ dialect: 'postgres', kills: quick ? 2 : 5, intervalMs: quick ? 1500 : 3000, databaseUrl, log }));

console.table(reports.map((r) => ({ scenario: r.scenario, kills: r.kills, sent: r.sent, acknowledged: r.acknowledged, events: r.events, delivered: r.delivered, duplicated: r.duplicated, lost: r.lost, stuck: r.stuck })));
const bad = reports.filter((r) => r.lost > 0 || r.stuck > 0);
console.log(bad.length ? `FAILED: ${bad.map((r) => r.scenario).join('; ')}` : 'OK: nothing lost, nothing stuck');
process.exit(bad.length ? 1 : 0);
