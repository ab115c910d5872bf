import { describe, expect, it } from 'vitest';
import { runCrashScenario } from '../../scripts/chaos/crash-scenario.js';
import { DATABASE_URL } from '../helpers/harness.js';

// Real processes, real SIGKILLs: the quick profile of `npm run chaos`, on whichever store this run uses.
describe('kill -9 under load loses nothing', () => {
  it(
    `every committed event is delivered at least once (${DATABASE_URL ? 'postgres' : 'sqlite'})`,
    { timeout: 180_000 },
    async () => {
      const report = await runCrashScenario({
        dialect: DATABASE_URL ? 'postgres' : 'sqlite',
        databaseUrl: DATABASE_URL ?? undefined,
        kills: 2,
        intervalMs: 1200,
      });
      expect(report.acknowledged).toBeGreaterThan(0);
      expect(report.events).toBeGreaterThanOrEqual(report.acknowledged);
      expect(report.lost).toBe(0);
      expect(report.stuck).toBe(0);
      expect(report.delivered).toBe(report.events);
    },
  );
});
