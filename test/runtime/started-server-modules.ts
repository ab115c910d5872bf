import { createRequire } from 'node:module';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/runtime/server.js';

/**
 * Starts the service as `npm start` does (SQLite in the data directory given as the argument, a loopback port
 * chosen by the system), answers one API request, stops, and prints which packages the process loaded: the
 * CommonJS modules in node_modules, by package name.
 */
const config = loadConfig({
  ESCALATR_MASTER_KEY: 'b'.repeat(64),
  DATA_DIR: process.argv[2],
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'silent',
});
const server = await startServer({ config, role: 'all', print: () => {}, stdoutIsTty: false });
const health = await fetch(`${server.url}/healthz`);
await server.stop();
const packages = new Set<string>();
for (const path of Object.keys(createRequire(import.meta.url).cache)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (m) packages.add(m[1]);
}
process.stdout.write(JSON.stringify({ healthStatus: health.status, packages: [...packages].sort() }));
