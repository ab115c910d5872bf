import { describe, expect, it } from 'vitest';
import { checkNetworkSupport, chaosDevices, listNamespaces } from '../../scripts/chaos/netns.js';
import { runNetworkScenario } from '../../scripts/chaos/network-scenario.js';
import { DATABASE_URL } from '../helpers/harness.js';

/**
 * A partition between the workers and PostgreSQL across a real network: `serve` and a `worker` run in a network
 * namespace of their own and reach the database over a veth, whose packets nftables drops for a few seconds under
 * load (scripts/chaos/network-scenario.ts; `npm run chaos` runs it for 30 s, with latency and loss too).
 * Needs PostgreSQL, root, iproute2 and nftables; the title says which is missing when it is skipped.
 */
const support = DATABASE_URL ? await checkNetworkSupport() : null;
const skipReason = !DATABASE_URL ? 'needs DATABASE_URL (PostgreSQL)' : support && !support.ok ? support.reason : null;

const serverUrl = () => {
  const base = new URL(DATABASE_URL!);
  base.pathname = '/postgres';
  return base.toString();
};

describe.skipIf(skipReason !== null)(
  `a network partition between the workers and PostgreSQL${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    it(
      'readiness goes down and comes back, work resumes by itself, nothing acknowledged is lost, and the namespace is removed',
      { timeout: 240_000 },
      async () => {
        const before = await listNamespaces();
        const report = await runNetworkScenario({
          fault: { kind: 'partition' },
          faultMs: 6000,
          phaseMs: 1500,
          databaseUrl: serverUrl(),
          support: support!,
          log: (line) => process.stdout.write(`  ${line}\n`),
        });
        expect(report.method).toBe('nftables drop');
        expect(report.dropped_packets).toBeGreaterThan(0);
        expect(report.acknowledged).toBeGreaterThan(0);
        expect(report.processes_survived).toBe(true);
        expect(report.went_not_ready).toBe(true);
        expect(report.recovered).toBe(true);
        expect(report.writes_resumed_s).not.toBeNull();
        expect(report.deliveries_resumed_s).not.toBeNull();
        expect(report.other_errors).toBe(0);
        expect(report.lost).toBe(0);
        expect(report.stuck).toBe(0);
        // At-least-once: every committed event arrived, some perhaps more than once (each one listed).
        expect(report.delivered).toBe(report.events);
        const listed = report.duplicates.reduce((sum, d) => sum + Number(d.split('×')[1]) - 1, 0);
        expect(listed).toBe(report.duplicated);
        expect(await listNamespaces()).toEqual(before);
        expect(await chaosDevices(report.namespace)).toEqual([]);
      },
    );

    it('removes its namespace and veths when the scenario fails part-way', { timeout: 60_000 }, async () => {
      const before = await listNamespaces();
      const devicesBefore = await chaosDevices();
      // Nothing listens on port 1: creating the scenario's database fails after the namespace exists.
      await expect(
        runNetworkScenario({
          fault: { kind: 'partition' },
          faultMs: 1000,
          phaseMs: 100,
          databaseUrl: 'postgres://postgres@127.0.0.1:1/postgres',
          support: support!,
        }),
      ).rejects.toThrow();
      expect(await listNamespaces()).toEqual(before);
      expect(await chaosDevices()).toEqual(devicesBefore);
    });
  },
);
