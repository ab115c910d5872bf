import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Store, Tx } from '../storage/db.js';
import type { SecretBox } from '../security/secret-box.js';

/** What every domain operation needs, passed in rather than imported, so tests can build one with a fake clock. */
export interface DomainContext {
  store: Store;
  clock: Clock;
  box: SecretBox;
  config: Pick<Config, 'retryScheduleMs' | 'allowHttpWebhooks' | 'publicUrl' | 'smtpUrl' | 'webhookAllowCidrs'>;
  /** Called after a commit that created deliveries: wakes the in-process worker (PostgreSQL also gets NOTIFY). */
  wake(): void;
}

/** The unit of work handed to a transactional operation. */
export interface Work {
  tx: Tx;
  now: number;
  /** Set by the event writer when deliveries were created, so the caller wakes workers after commit. */
  createdDeliveries: boolean;
}

export const DELIVERY_CHANNEL = 'escalatr_deliveries';

/**
 * Runs one domain operation in one transaction. After the commit, if the operation created deliveries, wake the
 * workers: never before the commit, or a worker could look for rows it cannot see yet.
 */
export async function transact<T>(ctx: DomainContext, fn: (work: Work) => Promise<T>): Promise<T> {
  let created = false;
  const result = await ctx.store.db.transaction().execute(async (tx) => {
    const work: Work = { tx, now: ctx.clock.now(), createdDeliveries: false };
    const value = await fn(work);
    created = work.createdDeliveries;
    return value;
  });
  if (created) ctx.wake();
  return result;
}
