import { describe, expect, it } from 'vitest';
import { runPgRestartScenario } from '../../scripts/chaos/pg-restart-scenario.js';
import { DATABASE_URL } from '../helpers/harness.js';

/**
 * The real thing: the machine's PostgreSQL server restarted under load (scripts/chaos/pg-restart-scenario.ts).
 * It restarts a server other tests may be using at the same moment, so it is opt-in: ESCALATR_CHAOS_PG_RESTART=1
 * with DATABASE_URL set. `npm run chaos` (full profile) runs it too. The everyday suite covers the same behaviour
 * without touching the server through a relay it cuts (pg-connection-loss.test.ts).
 */
const enabled = Boolean(DATABASE_URL) && process.env.ESCALATR_CHAOS_PG_RESTART === '1';

describe.skipIf(!enabled)('PostgreSQL restarted mid-load', () => {
  it(
    'serve survives, goes not ready, recovers by itself, refuses with 503 only, and loses nothing',
    { timeout: 300_000 },
    async () => {
      const base = new URL(DATABASE_URL!);
      base.pathname = '/postgres';
      const report = await runPgRestartScenario({
        databaseUrl: base.toString(),
        phaseMs: 2000,
        log: (line) => process.stdout.write(`  ${line}\n`),
      });
      expect(report.server_survived).toBe(true);
      expect(report.acknowledged).toBeGreaterThan(0);
      expect(report.went_not_ready).toBe(true);
      expect(report.recovered).toBe(true);
      expect(report.other_errors).toBe(0);
      expect(report.lost).toBe(0);
      expect(report.stuck).toBe(0);
    },
  );
});
