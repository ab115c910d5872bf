import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // A worker process runs its files in turn and keeps the modules it has loaded: importing the app afresh for each
    // test file took about 190 s of a PostgreSQL run here. Every test still makes its own store, app and clock; a
    // test that changes a module's state (fake timers, spies, the environment) puts it back in its own hooks.
    isolate: false,
    globalSetup: ['test/helpers/pg-schema-template.ts'],
  },
});
