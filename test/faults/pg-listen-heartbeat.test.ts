import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { systemClock } from '../../src/clock.js';
import { ApiKeyCache } from '../../src/domain/api-key-cache.js';
import { transact, type DomainContext } from '../../src/domain/context.js';
import { Wakeups, wakeAtCommit, type WakeSubscription } from '../../src/queue/wakeup.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { createTestStore, DATABASE_URL, testConfig, type TestStore } from '../helpers/harness.js';
import { relayToPostgres, type TcpProxy } from './tcp-proxy.js';

/**
 * The LISTEN connection only ever receives, so a NAT or firewall that forgets its flow leaves both ends believing it
 * is open: notifications stop arriving and nothing says so. Its heartbeat must find that out and listen again. The
 * connection goes through a loopback relay that the test makes forget its flows (the shared server is untouched).
 */
describe.skipIf(!DATABASE_URL)('PostgreSQL: the LISTEN connection silently dropped on the way', () => {
  let ts: TestStore;
  let proxy: TcpProxy;
  let viaProxy: Store;
  let wakeups: Wakeups;
  let subscription: WakeSubscription | null = null;
  const logged: string[] = [];

  beforeEach(async () => {
    ts = await createTestStore();
    let url: string;
    ({ proxy, url } = await relayToPostgres(DATABASE_URL!));
    viaProxy = openStore({ databaseUrl: url, pgSchema: ts.store.pgSchema, poolSize: 1 });
    logged.length = 0;
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    // A heartbeat every 100 ms, given two seconds to answer: the same code as the 30 s / 15 s a process uses.
    wakeups = new Wakeups(viaProxy, logger, { everyMs: 100, timeoutMs: 2_000 });
  });
  afterEach(async () => {
    await subscription?.close();
    subscription = null;
    await viaProxy.close();
    await proxy.close();
    await ts.cleanup();
  });

  it('finds the dead flow by its heartbeat, listens again on a new connection and hears commits from then on', async () => {
    let heard = 0;
    subscription = wakeups.subscribe('feedback', () => heard++);
    await wakeups.ready();
    expect(proxy.accepted()).toBe(1);
    const listening = heard; // the first LISTEN wakes everyone once

    // Another process (the test's own store, not through the relay) commits: heard through LISTEN.
    const other: DomainContext = {
      store: ts.store,
      clock: systemClock,
      box: new SecretBox(testConfig().masterKey),
      config: testConfig(),
      wakeups: new Wakeups({}),
      apiKeys: new ApiKeyCache(),
    };
    const commitElsewhere = () => transact(other, (work) => wakeAtCommit(other.store, work, 'feedback'));
    await commitElsewhere();
    await vi.waitFor(() => expect(heard).toBeGreaterThan(listening), { timeout: 10_000, interval: 10 });

    proxy.stall();
    // The heartbeat goes unanswered: the loss is logged, the dead connection closed and a new one listens.
    await vi.waitFor(() => expect(logged.join('')).toContain('LISTEN connection lost'), { timeout: 15_000 });
    const warning = JSON.parse(logged[0]) as { level: number; err: string; msg: string };
    expect(warning).toMatchObject({ level: 40, msg: 'LISTEN connection lost; reconnecting' });
    expect(warning.err).toMatch(/^no answer to the heartbeat: /);
    await vi.waitFor(() => expect([proxy.accepted(), proxy.open()]).toEqual([2, 1]), { timeout: 15_000 });
    await wakeups.ready();

    // Listening again: a commit made after the loss is heard.
    const before = heard;
    await commitElsewhere();
    await vi.waitFor(() => expect(heard).toBeGreaterThan(before), { timeout: 10_000, interval: 10 });
  });
});
