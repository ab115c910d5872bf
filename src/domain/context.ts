import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { QueueWork } from '../queue/enqueue.js';
import type { WakeChannel, Wakeups } from '../queue/wakeup.js';
import { inTransaction, type Store } from '../storage/db.js';
import type { SecretBox } from '../security/secret-box.js';
import type { ApiKeyCache } from './api-key-cache.js';

/** What every domain operation needs, passed in rather than imported, so tests can build one with a fake clock. */
export interface DomainContext {
  store: Store;
  clock: Clock;
  box: SecretBox;
  config: Pick<
    Config,
    | 'retryScheduleMs'
    | 'allowHttpWebhooks'
    | 'publicUrl'
    | 'smtpUrl'
    | 'webhookAllowCidrs'
    | 'companyLimits'
    | 'perEndpointConcurrency'
  >;
  /** This process's background loops waiting for work: transact() signals them after a commit that made some. */
  wakeups: Wakeups;
  /** The API keys this process verified lately; whatever revokes a key or changes a plan here tells it. */
  apiKeys: ApiKeyCache;
}

/** The unit of work handed to a transactional operation: its transaction, its time, the wake-ups due at commit. */
export type Work = QueueWork;

/**
 * Runs one domain operation in one transaction. After the commit, wake the loops the operation made work for
 * (deliveries, feedback to score): never before the commit, or a loop could look for rows it cannot see yet.
 */
export async function transact<T>(ctx: DomainContext, fn: (work: Work) => Promise<T>): Promise<T> {
  let wake: ReadonlySet<WakeChannel> = new Set();
  // inTransaction runs it again whole if a delivery it wrote had moved partitions meanwhile.
  const result = await inTransaction(ctx.store.db, async (tx) => {
    const work: Work = { tx, now: ctx.clock.now(), wakeAfterCommit: new Set() };
    const value = await fn(work);
    wake = work.wakeAfterCommit;
    return value;
  });
  for (const channel of wake) ctx.wakeups.signal(channel);
  return result;
}
