import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { printLines, withRuntime } from './runtime.js';

/** `serve`, `worker` and `migrate`: the long-running roles and the schema step. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('run the API and dashboard, with the scheduler and delivery worker unless --no-worker')
    .option('--no-worker', 'serve HTTP only; run `escalatr worker` processes for background work')
    .action(async (o: { worker: boolean }) => {
      const config = loadConfig(process.env);
      const { startServer } = await import('../runtime/server.js');
      await startServer({ config, role: o.worker ? 'all' : 'api', handleSignals: true });
    });

  program
    .command('worker')
    .description('run the scheduler and delivery worker without HTTP (several may share one PostgreSQL)')
    .action(async () => {
      const config = loadConfig(process.env);
      const { startServer } = await import('../runtime/server.js');
      await startServer({ config, role: 'worker', handleSignals: true });
    });

  program
    .command('migrate')
    .description('bring the store to the latest schema')
    .action(async () => {
      // Opening the runtime is what migrates; there is nothing else to do.
      const { applied, store } = await withRuntime(async (rt) => ({
        applied: rt.applied,
        store: rt.store.profile.name,
      }));
      printLines(applied.length ? `Applied ${applied.join(', ')} (${store}).` : `The ${store} store is up to date.`);
    });
}
