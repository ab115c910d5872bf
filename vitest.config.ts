import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One process runs the files in turn and keeps the modules it loaded: importing the app afresh for each of the
    // 117 files took about 190 s of a PostgreSQL run here. Every test still makes its own store, app and clock; a
    // test that changes a module's state (fake timers, environment) puts it back in its own hooks.
    isolate: false,
    globalSetup: ['test/helpers/pg-schema-template.ts'],
  },
});
