import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIRST_START_FILE } from '../../src/runtime/first-start.js';
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

  const modeOf = (path: string) => statSync(path).mode & 0o777;

  it('on an empty store writes the demo login to a private file, answers health checks, and stops on SIGTERM', async () => {
    server = cli.start(['serve'], { PORT: '0', HOST: '127.0.0.1' });
    const url = (await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    // stdout is a pipe here, as under a log collector: it names the file and holds no secret.
    const file = (await server.waitFor(/login, consumer token and API key are in (\S+) /))[1];
    expect(file).toBe(join(cli.dataDir, FIRST_START_FILE));
    expect(modeOf(file)).toBe(0o600);
    const credentials = readFileSync(file, 'utf8');
    expect(credentials).toMatch(/owner@volt\.example \/ \S{10,}/);
    expect(credentials).toMatch(/csk_\S{40,}/);
    expect(credentials).toMatch(/These secrets are shown only once\./);
    const secrets = [
      /owner@volt\.example \/ (\S{10,})/.exec(credentials)![1],
      /Consumer token +(\S+)/.exec(credentials)![1],
      /Admin API key +(\S+)/.exec(credentials)![1],
    ];
    for (const secret of secrets) {
      expect(server.stdout()).not.toContain(secret);
      expect(server.stderr()).not.toContain(secret);
    }

    // Like the key file, the store and everything beside it in the data dir is readable by this user only.
    expect(modeOf(join(cli.dataDir, 'master.key'))).toBe(0o600);
    if (!cli.databaseUrl) {
      for (const name of ['escalatr.db', 'escalatr.db-wal', 'escalatr.db-shm'])
        expect(modeOf(join(cli.dataDir, name)), name).toBe(0o600);
    }

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
