import { defineConfig } from 'vitest/config';

/** Browser tests: a real server on 127.0.0.1, a real Chromium, one file at a time (`npx vitest run -c vitest.e2e.config.ts`). */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
