import pg from 'pg';
import { DELIVERY_CHANNEL } from '../domain/context.js';

/**
 * LISTENs for the NOTIFY that event writers send at commit, so workers on other processes and machines start a
 * claim at once instead of on their next poll. Reconnects after a lost connection; the poll covers the gap.
 */
export function listenForDeliveries(
  connectionString: string,
  schema: string | undefined,
  onNotify: () => void,
  onError: (err: Error) => void,
) {
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString, options: schema ? `-c search_path=${schema}` : undefined });
    c.on('notification', () => onNotify());
    c.on('error', (err) => {
      onError(err);
      scheduleReconnect();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${DELIVERY_CHANNEL}`);
      client = c;
      // Anything committed while we were not listening is found by this claim.
      onNotify();
    } catch (err) {
      onError(err as Error);
      await c.end().catch(() => undefined);
      scheduleReconnect();
    }
  };
  const scheduleReconnect = () => {
    if (stopped || retry) return;
    client = null;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, 1000);
    retry.unref();
  };
  void connect();
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
