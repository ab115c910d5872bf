import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import { createCliEnv, dropFileDatabase, waitForExit, type CliEnv, type RunningCli } from '../cli/cli-harness.js';

const TOKEN = 'scrape-me-9f2c4b1e7d';

describe('/metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  afterEach(async () => t?.close());

  const scrape = (authorization?: string) =>
    t.app.http.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });

  it('answers 401 without the token, with a wrong one or another scheme, and the figures with it', async () => {
    t = await createTestApp({ config: { metricsToken: TOKEN } });
    for (const authorization of [
      undefined,
      'Bearer wrong-token-0000000000',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
      TOKEN,
      `Bearer ${TOKEN} extra`,
      'Bearer ' + 'a'.repeat(8000),
    ]) {
      const res = await scrape(authorization);
      expect(res.statusCode, String(authorization).slice(0, 40)).toBe(401);
      expect(res.json()).toMatchObject({ success: false, error: { code: 'unauthorized' } });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body).not.toContain('escalatr_');
    }
    const ok = await scrape(`Bearer ${TOKEN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('escalatr_log_lines_dropped_total 0');
    expect((await scrape(`bearer  ${TOKEN}`)).statusCode).toBe(200);
    // Health checks stay open: load balancers carry no token.
    expect((await t.app.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('stays public without a token, as before', async () => {
    t = await createTestApp();
    const res = await scrape();
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('escalatr_delivery_attempts_total');
  });
});

describe('METRICS_TOKEN and METRICS_LISTEN settings', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const env = (vars: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'escalatr-cfg-'));
    dirs.push(dir);
    return { DATA_DIR: dir, ESCALATR_MASTER_KEY: 'ab'.repeat(32), ...vars };
  };

  it('reads host:port forms and refuses anything else, naming the variable', () => {
    expect(loadConfig(env({})).metricsListen).toBeNull();
    expect(loadConfig(env({ METRICS_LISTEN: '127.0.0.1:9464' })).metricsListen).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(loadConfig(env({ METRICS_LISTEN: '[::1]:9464' })).metricsListen).toEqual({ host: '::1', port: 9464 });
    expect(loadConfig(env({ METRICS_LISTEN: ':9464' })).metricsListen).toEqual({ host: '0.0.0.0', port: 9464 });
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', 'host:port', '::1:9464', '127.0.0.1:-1', 'a b:1'])
      expect(() => loadConfig(env({ METRICS_LISTEN: bad })), bad).toThrow(/METRICS_LISTEN/);
  });

  it('takes a token of 16 printable characters or more, and nothing shorter or with spaces', () => {
    expect(loadConfig(env({})).metricsToken).toBeNull();
    expect(loadConfig(env({ METRICS_TOKEN: TOKEN })).metricsToken).toBe(TOKEN);
    for (const bad of ['short', 'has a space in the token', 'tab\there-123456789'])
      expect(() => loadConfig(env({ METRICS_TOKEN: bad })), bad).toThrow(/METRICS_TOKEN/);
  });
});

describe('METRICS_LISTEN in a running process', () => {
  afterAll(dropFileDatabase);
  let cli: CliEnv | null = null;
  let server: RunningCli | null = null;
  afterEach(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await waitForExit(server.child).catch(() => undefined);
    }
    server = null;
    await cli?.cleanup();
    cli = null;
  });

  const metricsEnv = { METRICS_LISTEN: '127.0.0.1:0', METRICS_TOKEN: TOKEN, PORT: '0', HOST: '127.0.0.1' };
  const authorized = { authorization: `Bearer ${TOKEN}` };

  it('serves the metrics only on their own address, behind the token; the API address has none', async () => {
    cli = await createCliEnv();
    server = cli.start(['serve'], metricsEnv);
    const api = (await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    const metrics = (await server.waitFor(/Metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1];
    expect(metrics).not.toBe(api);

    expect((await fetch(`${api}/metrics`, { headers: authorized })).status).toBe(404);
    expect((await fetch(`${metrics}/metrics`)).status).toBe(401);
    const scraped = await fetch(`${metrics}/metrics`, { headers: authorized });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('escalatr_log_lines_dropped_total');
    expect((await fetch(`${metrics}/readyz`)).status).toBe(200);
    // Only the operators' routes: nothing of the API or the dashboard.
    expect((await fetch(`${metrics}/api/v1/complaints`)).status).toBe(404);
    expect((await fetch(`${metrics}/`)).status).toBe(404);

    server.child.kill('SIGTERM');
    expect(await waitForExit(server.child)).toBe(0);
  });

  it('gives a worker process (which serves no API) its health checks and metrics there', async () => {
    cli = await createCliEnv();
    // The worker does not create the schema's demo data; migrating first is what an operator does too.
    expect((await cli.run(['migrate'])).code).toBe(0);
    server = cli.start(['worker'], metricsEnv);
    await server.waitFor(/worker running/);
    const metrics = (await server.waitFor(/Metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1];
    expect((await fetch(`${metrics}/healthz`)).status).toBe(200);
    expect((await fetch(`${metrics}/readyz`)).status).toBe(200);
    const scraped = await fetch(`${metrics}/metrics`, { headers: authorized });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('escalatr_deliveries_in_flight');
    expect((await fetch(`${metrics}/api/v1/complaints`)).status).toBe(404);
    expect(server.stdout()).not.toMatch(/listening on/);

    server.child.kill('SIGTERM');
    expect(await waitForExit(server.child)).toBe(0);
  });
});
