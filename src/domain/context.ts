import { sql } from 'kysely';
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
export interface Work extends QueueWork {
  /** The first event the operation wrote (writeEvent): the row that shows, after a lost connection, that it committed. */
  writtenEvent?: string;
}

/**
 * Runs one domain operation in one transaction. After the commit, wake the loops the operation made work for
 * (deliveries, feedback to score): never before the commit, or a loop could look for rows it cannot see yet.
 *
 * A connection lost after the COMMIT was sent (the server restarted, the network dropped the answer) leaves the
 * outcome unknown: the server may have committed. An operation that wrote an event is then asked about on another
 * connection: when its event is there, everything it wrote is (they commit together), and it answers as committed
 * instead of failing a change that was made. Otherwise, or when the store cannot be asked either, the loss is
 * reported as it came.
 */
export async function transact<T>(ctx: DomainContext, fn: (work: Work) => Promise<T>): Promise<T> {
  let wake: ReadonlySet<WakeChannel> = new Set();
  let done: { value: T; writtenEvent?: string } | null = null;
  let result: T;
  try {
    // inTransaction runs it again whole if a delivery it wrote had moved partitions meanwhile.
    result = await inTransaction(ctx.store.db, async (tx) => {
      done = null;
      const work: Work = { tx, now: ctx.clock.now(), wakeAfterCommit: new Set() };
      const value = await fn(work);
      wake = work.wakeAfterCommit;
      done = { value, writtenEvent: work.writtenEvent };
      return value;
    });
  } catch (err) {
    const ran = done as { value: T; writtenEvent?: string } | null;
    if (!ran?.writtenEvent || !ctx.store.profile.isUnavailable(err) || !(await isStored(ctx, ran.writtenEvent)))
      throw err;
    result = ran.value;
  }
  for (const channel of wake) ctx.wakeups.signal(channel);
  return result;
}

/** Whether an event is in the store, asked on another connection; false when that cannot be told now either. */
async function isStored(ctx: DomainContext, eventId: string): Promise<boolean> {
  try {
    const { rows } = await sql`select 1 from events where id = ${eventId}`.execute(ctx.store.db);
    return rows.length > 0;
  } catch {
    return false;
  }
}
