import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCliEnv, dropFileDatabase, waitForExit, type CliEnv, type RunningCli } from './cli-harness.js';

describe('escalatr serve', () => {
  afterAll(dropFileDatabase);
  let cli: CliEnv;
  let server: RunningCli | null = null;
  beforeEach(async () => {
    cli = await createCliEnv();
  });
  afterEach(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await waitForExit(server.child).catch(() => undefined);
    }
    server = null;
    await cli.cleanup();
  });

  it('on an empty store prints the URL and the demo login, answers health checks, and stops on SIGTERM', async () => {
    server = cli.start(['serve'], { PORT: '0', HOST: '127.0.0.1' });
    const url = (await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    await server.waitFor(/These secrets are shown only once\./);
    expect(server.stdout()).toMatch(/owner@volt\.example \/ \S{10,}/);
    expect(server.stdout()).toMatch(/csk_\S{40,}/);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', store: cli.databaseUrl ? 'postgres' : 'sqlite' });

    server.child.kill('SIGTERM');
    expect(await waitForExit(server.child)).toBe(0);

    // The second start finds the store made: no new credentials are printed.
    server = cli.start(['serve', '--no-worker'], { PORT: '0', HOST: '127.0.0.1' });
    const second = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+) \(role: api/);
    expect((await fetch(`${second[1]}/healthz`)).status).toBe(200);
    server.child.kill('SIGINT');
    expect(await waitForExit(server.child)).toBe(0);
    expect(server.stdout()).not.toMatch(/First start|csk_/);
  });
});
