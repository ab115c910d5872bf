import { spawn } from 'node:child_process';
import { createServer, Socket, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '@escalatr/webhooks';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { BIN, waitForExit, watch, type RunningCli } from './cli-harness.js';

/** A TCP relay in front of the server whose connections the test can cut (a dropped network, not a closed socket). */
async function startRelay(port: number): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((inbound) => {
    const outbound = new Socket();
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    outbound.connect(port, '127.0.0.1');
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** How long an awaited state may take to appear (a child process starts, reconnects, forwards). */
const WAIT = { timeout: 60_000, interval: 50 };

/** The HTTP status a WebSocket upgrade to `url` is refused with (0: it was accepted). */
function upgradeStatus(url: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: bearer(key) });
    socket.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? -1);
    });
    socket.on('open', () => {
      socket.close();
      resolve(0);
    });
    socket.on('error', (err) => reject(err));
  });
}

describe('escalatr listen (a real child process against a real server)', { timeout: 120_000 }, () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  let receiver: Receiver;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  const children: RunningCli[] = [];

  beforeEach(async () => {
    // Signatures are checked against the receiver's clock, so the server's clock starts at real time.
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    tenant = await seedTenant(t);
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    relay = await startRelay((t.app.http.server.address() as AddressInfo).port);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await waitForExit(c.child).catch(() => undefined);
    }
    await receiver.close();
    relay.cut();
    await relay.close();
    await t.close();
  });

  function listen(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
    const running = watch(
      spawn(process.execPath, [BIN, 'listen', ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    children.push(running);
    return running;
  }

  async function started(args: string[] = []) {
    const cli = listen(['--forward-to', receiver.url, ...args], {
      ESCALATR_URL: relay.url,
      ESCALATR_API_KEY: tenant.adminKey,
    });
    const [, endpointId] = await cli.waitFor(/development endpoint (ep_[0-9a-z]+)/, 60_000);
    const [, secret] = await cli.waitFor(/signing secret (\S+)/);
    return { cli, endpointId, secret };
  }

  const api = (method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.http.inject({ method, url, headers: bearer(tenant.adminKey), ...(payload ? { payload } : {}) });

  async function fileComplaint(title = 'Fridge'): Promise<string> {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(tenant.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Consumer Durables', title, description: 'Warm' },
    });
    expect(res.statusCode).toBe(201);
    return res.json().data.escalatr_id;
  }

  async function deliveriesOf(endpointId: string) {
    const res = await api('GET', `/api/v1/webhooks/${endpointId}/deliveries`);
    expect(res.statusCode).toBe(200);
    return res.json().data as Array<{
      id: string;
      event: string;
      status: string;
      target: string;
      attempt_count: number;
    }>;
  }

  it('forwards a Test event and a complaint event that @escalatr/webhooks verifies, and records each attempt', async () => {
    const { cli, endpointId, secret } = await started();
    const listed = await api('GET', `/api/v1/webhooks/${endpointId}`);
    expect(listed.json().data).toMatchObject({ development: true, url: receiver.url });

    expect((await api('POST', `/api/v1/webhooks/${endpointId}/test`)).statusCode).toBe(201);
    const escalatrId = await fileComplaint();
    const [test, complaint] = await receiver.waitFor(2);

    const verified = [test, complaint].map((r) =>
      verifyWebhook<{ event: string; data: Record<string, unknown> }>(r.body, r.headers, secret),
    );
    expect(verified.map((v) => v.payload.event)).toEqual(['webhook.test', 'complaint.created']);
    expect(verified[1].payload.data.escalatr_id).toBe(escalatrId);
    expect(complaint.headers['content-type']).toBe('application/json');

    await cli.waitFor(/complaint\.created {2}200 {2}\d+ ms {2}dlv_/);
    await vi.waitFor(async () => {
      const rows = await deliveriesOf(endpointId);
      expect(rows.map((r) => [r.event, r.status, r.target, r.attempt_count]).sort()).toEqual([
        ['complaint.created', 'success', 'listener', 1],
        ['webhook.test', 'success', 'listener', 1],
      ]);
    }, WAIT);
    const [row] = (await deliveriesOf(endpointId)).filter((r) => r.event === 'complaint.created');
    const detail = (await api('GET', `/api/v1/deliveries/${row.id}`)).json().data;
    expect(detail.attempts).toEqual([expect.objectContaining({ status_code: 200, error_kind: null })]);
  });

  it('loses nothing when the connection drops: unanswered and new deliveries arrive after the reconnect', async () => {
    const { cli, endpointId, secret } = await started();
    // The first forward hangs until the connection is cut, so its result can never be reported on that connection.
    receiver.setBehaviour((_req, n) => (n === 1 ? 'hang' : { status: 200, body: 'ok' }));
    const first = await fileComplaint('First');
    await receiver.waitFor(1);
    relay.cut();
    // Filed while the listener is away: it must arrive once the listener is back.
    const second = await fileComplaint('Second');
    await cli.waitFor(/reconnected/);

    await vi.waitFor(async () => {
      const rows = await deliveriesOf(endpointId);
      expect(rows.map((r) => r.status)).toEqual(['success', 'success']);
    }, WAIT);
    const ids = receiver.requests
      .slice(1)
      .map((r) => verifyWebhook<{ data: { escalatr_id: string } }>(r.body, r.headers, secret).payload.data.escalatr_id);
    expect(ids).toContain(first);
    expect(ids).toContain(second);
  });

  it('removes its development endpoint on Ctrl-C (SIGINT)', async () => {
    const { cli, endpointId } = await started(['--events', 'complaint.created']);
    expect((await api('GET', `/api/v1/webhooks/${endpointId}`)).json().data.events).toEqual(['complaint.created']);
    cli.child.kill('SIGINT');
    expect(await waitForExit(cli.child)).toBe(0);
    expect(cli.stdout()).toContain(`Removed development endpoint ${endpointId}`);
    expect((await api('GET', `/api/v1/webhooks/${endpointId}`)).statusCode).toBe(404);
  });

  it('fails clearly with a bad key, and another company cannot resume the endpoint', async () => {
    const cli = listen(['--forward-to', receiver.url, '--server', relay.url, '--key', 'esc_not_a_real_key']);
    expect(await waitForExit(cli.child)).toBe(1);
    expect(cli.stderr()).toMatch(/escalatr: the server refused the API key/);

    const { endpointId } = await started();
    const other = await seedTenant(t, { code: 'ACME' });
    const listenUrl = `${relay.url.replace('http', 'ws')}/api/v1/webhooks/listen?endpoint_id=${endpointId}`;
    expect(await upgradeStatus(listenUrl, other.adminKey)).toBe(404);
    expect(await upgradeStatus(listenUrl, other.readKey)).toBe(403);
  });
});
