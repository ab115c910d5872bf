import { runCrashScenario, type CrashReport } from './chaos/crash-scenario.js';
import { runSqliteFullScenario } from './chaos/sqlite-full-scenario.js';
import { runPgRestartScenario } from './chaos/pg-restart-scenario.js';
import type { StoreFaultReport } from './chaos/load.js';
import { parseArgs } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printSoakReport, runSoak } from './chaos/soak.js';
import { checkNetworkSupport } from './chaos/netns.js';
import { runNetworkScenario, type NetworkFaultReport } from './chaos/network-scenario.js';

/**
 * `npm run chaos [-- --quick] [-- --network]`: crash-safety, store-fault and network-fault scenarios against real
 * processes. Prints, per scenario, the events sent, delivered, duplicated, lost (must be 0) and stuck (must be 0);
 * exits non-zero if any is lost or stuck, or a fault was not reported, not recovered from, or answered with
 * anything but 201/503. The PostgreSQL restart restarts the machine's server, so only the full profile runs it.
 * The network scenarios need root, iproute2 and nftables, and are skipped (saying why) without them; `--network`
 * runs only those.
 *
 * `npm run chaos -- --soak [--soak-minutes N] [--soak-store sqlite|postgres] [--soak-json FILE]`: the soak alone
 * (30 minutes by default), see scripts/chaos/soak.ts.
 */
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '30' },
    'soak-store': { type: 'string', default: 'sqlite' },
    'soak-json': { type: 'string' },
    network: { type: 'boolean', default: false },
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
  printSoakReport(report, jsonPath);
  process.exit(report.problems.length ? 1 : 0);
}

const reports: CrashReport[] = [];
const faults: Array<StoreFaultReport & { server_survived?: boolean }> = [];
if (!args.network) {
  reports.push(
    await runCrashScenario({ dialect: 'sqlite', kills: quick ? 2 : 5, intervalMs: quick ? 1500 : 3000, log }),
  );
  reports.push(
    await runCrashScenario({
      dialect: 'postgres',
      kills: quick ? 2 : 5,
      intervalMs: quick ? 1500 : 3000,
      databaseUrl,
      log,
    }),
  );
  faults.push(await runSqliteFullScenario({ phaseMs: quick ? 1000 : 2500, log }));
  if (!quick) faults.push(await runPgRestartScenario({ databaseUrl, phaseMs: 3000, log }));
}

// Faults across a real network: namespaces, veths and nftables need root, iproute2 and nftables.
const network: NetworkFaultReport[] = [];
const support = await checkNetworkSupport();
if (!support.ok) {
  console.log(`SKIPPED the network scenarios: ${support.reason}`);
} else {
  if (!support.netem)
    console.log(
      `NOTE: ${support.netemReason}. Loss and the partition are nftables drops on the veth (in the kernel, as netem would); ` +
        'latency is added by the database forwarder holding every chunk (in user space, not in the kernel).',
    );
  const phaseMs = quick ? 2000 : 5000;
  for (const [fault, faultMs] of [
    [{ kind: 'latency', ms: 200 }, quick ? 5000 : 20_000],
    [{ kind: 'loss', percent: 5 }, quick ? 5000 : 20_000],
    [{ kind: 'partition' }, quick ? 10_000 : 30_000],
    // The forgetting is at once; the dead flows stay dead after it.
    [{ kind: 'forgotten' }, 1000],
  ] as const) {
    network.push(await runNetworkScenario({ fault, faultMs, phaseMs, databaseUrl, support, log }));
  }
}

if (reports.length)
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
if (faults.length)
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
if (network.length) {
  console.table(
    network.map((r) => ({
      scenario: r.scenario,
      method: r.method,
      sent: r.sent,
      acknowledged: r.acknowledged,
      'refused 503': r.refused_503,
      'other errors': r.other_errors,
      events: r.events,
      delivered: r.delivered,
      duplicated: r.duplicated,
      lost: r.lost,
      stuck: r.stuck,
    })),
  );
  console.table(
    network.map((r) => ({
      scenario: r.scenario,
      'dropped pkts': r.dropped_packets,
      'acked in fault': r.acknowledged_during_fault,
      'received in fault': r.received_during_fault,
      'slowest write s': r.slowest_write_s,
      'not ready % in fault': r.not_ready_during_fault_pct,
      'down after s': r.went_down_after_s,
      'ready again s': r.recovery_s,
      'writes resumed s': r.writes_resumed_s,
      'deliveries resumed s': r.deliveries_resumed_s,
      survived: r.processes_survived,
    })),
  );
  for (const r of network)
    if (r.duplicates.length) console.log(`  ${r.scenario}: delivered more than once: ${r.duplicates.join(', ')}`);
}
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
  // Latency and loss may leave /readyz ready throughout; a partition must take it down and bring it back.
  ...network
    .filter(
      (r) =>
        r.lost > 0 ||
        r.stuck > 0 ||
        r.other_errors > 0 ||
        !r.recovered ||
        !r.processes_survived ||
        (r.fault === 'partition' && !r.went_not_ready),
    )
    .map((r) => r.scenario),
];
console.log(
  bad.length ? `FAILED: ${bad.join('; ')}` : 'OK: nothing lost, nothing stuck, every fault reported and recovered from',
);
process.exit(bad.length ? 1 : 0);
