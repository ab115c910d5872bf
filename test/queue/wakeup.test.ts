import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { transact, type DomainContext } from '../../src/domain/context.js';
import { Wakeups, wakeAtCommit, type WakeChannel, type WakeSubscription } from '../../src/queue/wakeup.js';
import { SecretBox } from '../../src/security/secret-box.js';
import type { Store } from '../../src/storage/db.js';
import { createTestStore, DATABASE_URL, testConfig, type TestStore } from '../helpers/harness.js';
import { ApiKeyCache } from '../../src/domain/api-key-cache.js';
import { createCompany } from '../../src/domain/companies.js';

/** A domain context of its own over `store`: another "process" when the store is another handle. */
function contextOf(store: Store): DomainContext {
  const config = testConfig();
  return {
    store,
    clock: systemClock,
    box: new SecretBox(config.masterKey),
    config,
    wakeups: new Wakeups(store),
    apiKeys: new ApiKeyCache(),
  };
}

/** Each wake-up of a channel as an awaitable queue. */
function recorder(wakeups: Wakeups, channel: WakeChannel) {
  let count = 0;
  let waiter: { n: number; resolve: () => void } | null = null;
  const subscription: WakeSubscription = wakeups.subscribe(channel, () => {
    count++;
    if (waiter && count >= waiter.n) waiter.resolve();
  });
  return {
    subscription,
    get count() {
      return count;
    },
    /** Resolves once `n` wake-ups in all have arrived. */
    until(n: number): Promise<void> {
      if (count >= n) return Promise.resolve();
      return new Promise((resolve) => (waiter = { n, resolve }));
    },
  };
}

describe('wake-ups: one mechanism for the delivery worker, the Shield processor and the API key cache', () => {
  let ts: TestStore;
  let ctx: DomainContext;
  const subscriptions: WakeSubscription[] = [];
  beforeEach(async () => {
    ts = await createTestStore();
    ctx = contextOf(ts.store);
  });
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) await s.close();
    await ts.cleanup();
  });

  it('signals this process after the commit, once per channel, and never for a transaction rolled back', async () => {
    const signalled: WakeChannel[] = [];
    const signal = ctx.wakeups.signal.bind(ctx.wakeups);
    ctx.wakeups.signal = (channel) => {
      signalled.push(channel);
      signal(channel);
    };
    await transact(ctx, async (work) => {
      await wakeAtCommit(ctx.store, work, 'deliveries');
      await wakeAtCommit(ctx.store, work, 'deliveries');
      await wakeAtCommit(ctx.store, work, 'feedback');
      // Nothing yet: a listener woken now could look for rows it cannot see.
      expect(signalled).toEqual([]);
    });
    expect(signalled.sort()).toEqual(['deliveries', 'feedback']);

    signalled.length = 0;
    await expect(
      transact(ctx, async (work) => {
        await wakeAtCommit(ctx.store, work, 'deliveries');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(signalled).toEqual([]);
  });

  it('runs the listeners of the channel signalled only, until their subscription is closed', async () => {
    // In-process only (no LISTEN connection): NOTIFY channels are database-wide, so on a database shared with
    // parallel tests a listening connection also hears their commits.
    const local = new Wakeups({});
    const deliveries = recorder(local, 'deliveries');
    const feedback = recorder(local, 'feedback');
    subscriptions.push(feedback.subscription);
    local.signal('deliveries');
    expect([deliveries.count, feedback.count]).toEqual([1, 0]);
    await deliveries.subscription.close();
    local.signal('deliveries');
    local.signal('feedback');
    expect([deliveries.count, feedback.count]).toEqual([1, 1]);
  });

  it.skipIf(!!DATABASE_URL)(
    'SQLite: a commit by another connection (the CLI beside a server) wakes every channel of this process',
    async () => {
      const other = contextOf(ts.reopen());
      const deliveries = recorder(ctx.wakeups, 'deliveries');
      const credentials = recorder(ctx.wakeups, 'credentials');
      subscriptions.push(deliveries.subscription, credentials.subscription);
      await ctx.wakeups.ready(); // the commit counter's first value is read

      // This process's own commits signal its listeners themselves: the channel they name, once.
      await createCompany(ctx, { name: 'Own', code: 'OWNC', plan: 'free' });
      await transact(ctx, (work) => wakeAtCommit(ctx.store, work, 'deliveries'));
      expect([deliveries.count, credentials.count]).toEqual([1, 0]);

      // Another connection's commit cannot signal here; the watch sees the counter move and wakes every channel.
      await createCompany(other, { name: 'Elsewhere', code: 'ELSE', plan: 'free' });
      await Promise.all([deliveries.until(2), credentials.until(1)]);
      expect([deliveries.count, credentials.count]).toEqual([2, 1]);
    },
  );

  it.skipIf(!DATABASE_URL)('PostgreSQL: a commit in another process wakes this one through LISTEN', async () => {
    const other = contextOf(ts.reopen());
    const deliveries = recorder(ctx.wakeups, 'deliveries');
    const feedback = recorder(ctx.wakeups, 'feedback');
    subscriptions.push(deliveries.subscription, feedback.subscription);
    await Promise.all([deliveries.until(1), feedback.until(1)]); // listening now

    await transact(other, (work) => wakeAtCommit(other.store, work, 'feedback'));
    await feedback.until(2);
    await transact(other, (work) => wakeAtCommit(other.store, work, 'deliveries'));
    await deliveries.until(2);
    // At least: NOTIFY channels are database-wide, and parallel tests' commits may wake these listeners too.
    expect(deliveries.count).toBeGreaterThanOrEqual(2);
    expect(feedback.count).toBeGreaterThanOrEqual(2);
  });
});
