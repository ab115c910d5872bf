import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * What the store-fault scenarios share: a receiver that counts what it gets, a steady producer of complaints, a
 * readiness watcher, a throwaway PostgreSQL database, and the final check that everything committed was delivered.
 */

export interface StoreFaultReport {
  scenario: string;
  sent: number;
  acknowledged: number;
  /** Writes refused with 503 `unavailable` while the store was failing. */
  refused_503: number;
  /** Answers that were neither 201 nor 503 (a 500 would land here): must be 0. */
  other_errors: number;
  events: number;
  delivered: number;
  duplicated: number;
  lost: number;
  stuck: number;
  /** /readyz answered 503 during the fault, and 200 again afterwards without a restart. */
  went_not_ready: boolean;
  recovered: boolean;
  /** Seconds from the end of the fault to /readyz answering 200 again. */
  recovery_s: number | null;
}

/**
 * A receiver that answers 200 after a short random delay and counts every event id it gets, and every Shield alert
 * by its Idempotency-Key. It listens on loopback unless `host` names another local address (a veth's, so processes
 * in a network namespace can reach it).
 */
export async function startCountingReceiver(opts: { host?: string } = {}) {
  const host = opts.host ?? '127.0.0.1';
  const seen = new Map<string, number>();
  const createdIds = new Set<string>();
  const alerts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        if (typeof body.automation_id === 'string') {
          const key = String(req.headers['idempotency-key']);
          alerts.set(key, (alerts.get(key) ?? 0) + 1);
        } else {
          seen.set(body.id, (seen.get(body.id) ?? 0) + 1);
          if (body.event === 'complaint.created') createdIds.add(body.data.escalatr_id);
        }
      } catch {
        // not ours
      }
      setTimeout(() => res.end('ok'), Math.floor(Math.random() * 20));
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}/hook`,
    seen,
    createdIds,
    alerts,
    /** Requests received so far (every attempt, duplicates included). */
    received: () => [...seen.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
export type CountingReceiver = Awaited<ReturnType<typeof startCountingReceiver>>;

/**
 * The environment every chaos scenario runs escalatr with: loopback webhooks allowed, short leases and a retry
 * schedule in seconds, so a fault's aftermath settles within the scenario.
 */
export function chaosEnv(opts: {
  dataDir: string;
  port: number;
  databaseUrl?: string;
  logLevel?: string;
}): NodeJS.ProcessEnv {
  return {
    DATA_DIR: opts.dataDir,
    PORT: String(opts.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: opts.logLevel ?? 'error',
    ESCALATR_MASTER_KEY: randomBytes(32).toString('hex'),
    ESCALATR_ALLOW_HTTP_WEBHOOKS: 'true',
    ESCALATR_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    ESCALATR_LEASE_MS: '5000',
    ESCALATR_RETRY_SCHEDULE: '1s,1s,2s,5s,10s',
    DATABASE_URL: opts.databaseUrl ?? '',
  };
}

/** A fresh database on the server at `baseUrl`, dropped afterwards. */
export async function createDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `escalatr_chaos_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface Load {
  sent(): number;
  acknowledged: Set<string>;
  refused503(): number;
  otherErrors(): Array<string>;
  /** The longest a request took to be answered, in ms. */
  slowestMs(): number;
  stop(): Promise<void>;
}

/** `workers` producers filing complaints as fast as the server answers; a refused or failed request is retried later. */
export function startLoad(base: string, consumerToken: string, companyCode: string, workers = 4): Load {
  let sent = 0;
  let refused = 0;
  const other: string[] = [];
  const acknowledged = new Set<string>();
  let producing = true;
  let slowest = 0;
  const producer = async () => {
    while (producing) {
      sent++;
      const started = Date.now();
      try {
        const r = await fetch(`${base}/api/consumer/v1/complaints`, {
          method: 'POST',
          headers: { authorization: `Bearer ${consumerToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            company_code: companyCode,
            complaint_category: 'Chaos',
            title: `load ${sent}`,
            description: 'steady load during a store fault '.repeat(20),
          }),
        });
        const text = await r.text();
        slowest = Math.max(slowest, Date.now() - started);
        if (r.status === 201) acknowledged.add(JSON.parse(text).data.escalatr_id);
        else if (r.status === 503 && JSON.parse(text).error?.code === 'unavailable') refused++;
        else other.push(`${r.status} ${text.slice(0, 200)}`);
        if (r.status !== 201) await new Promise((res) => setTimeout(res, 20));
      } catch (err) {
        other.push(`request failed: ${(err as Error).message}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  };
  const running = Array.from({ length: workers }, producer);
  return {
    sent: () => sent,
    acknowledged,
    refused503: () => refused,
    otherErrors: () => other,
    slowestMs: () => slowest,
    async stop() {
      producing = false;
      await Promise.all(running);
    },
  };
}

/** Polls /readyz every 100 ms and remembers whether it went not-ready, and when it was last ready again. */
export function watchReadiness(base: string) {
  let sawNotReady = false;
  let lastStatus = 0;
  let readyAgainAt: number | null = null;
  let firstNotReadyAt: number | null = null;
  let polls = 0;
  let notReadyPolls = 0;
  let watching = true;
  const loop = (async () => {
    while (watching) {
      let status: number;
      try {
        status = (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) })).status;
      } catch {
        status = 0; // the request itself failed: not ready
      }
      polls++;
      if (status !== 200) {
        notReadyPolls++;
        sawNotReady = true;
        firstNotReadyAt ??= Date.now();
        readyAgainAt = null;
      } else if (lastStatus !== 200) {
        readyAgainAt = Date.now();
      }
      lastStatus = status;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    sawNotReady: () => sawNotReady,
    ready: () => lastStatus === 200,
    readyAgainAt: () => readyAgainAt,
    firstNotReadyAt: () => firstNotReadyAt,
    polls: () => polls,
    notReadyPolls: () => notReadyPolls,
    /** Starts counting afresh (a scenario's fault phase), keeping the current status. */
    resetCounts() {
      sawNotReady = false;
      firstNotReadyAt = null;
      polls = 0;
      notReadyPolls = 0;
    },
    async stop() {
      watching = false;
      await loop;
    },
  };
}

/** Polls until `check` is true or the deadline passes; answers whether it became true. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * After the fault: waits for every delivery to settle, then compares the event feed and the acknowledged
 * complaints with what the receiver got. Lost = committed but never received; stuck = still pending or failed.
 */
export async function settleAndCount(
  base: string,
  apiKey: string,
  receiver: CountingReceiver,
  acknowledged: Set<string>,
  settleMs = 90_000,
) {
  const feedTotal = async (status: string) => {
    const r = await fetch(`${base}/api/v1/events?status=${status}&limit=1`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    return (await r.json()).total as number;
  };
  const settled = await eventually(
    async () => (await feedTotal('pending')) + (await feedTotal('failed')) === 0,
    settleMs,
    250,
  );
  const stuck = settled ? 0 : (await feedTotal('pending')) + (await feedTotal('failed'));
  const first = await fetch(`${base}/api/v1/events?limit=1`, { headers: { authorization: `Bearer ${apiKey}` } }).then(
    (r) => r.json(),
  );
  const eventIds: string[] = [];
  for (let page = 1; page <= Math.ceil(first.total / 100); page++) {
    const r = await fetch(`${base}/api/v1/events?limit=100&page=${page}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    }).then((x) => x.json());
    eventIds.push(
      ...r.data
        .filter((e: { delivery_status: string }) => e.delivery_status !== 'none')
        .map((e: { id: string }) => e.id),
    );
  }
  const lostEvents = eventIds.filter((id) => !receiver.seen.has(id)).length;
  const lostAcked = [...acknowledged].filter((id) => !receiver.createdIds.has(id)).length;
  const deliveredTotal = [...receiver.seen.values()].reduce((a, b) => a + b, 0);
  return {
    events: eventIds.length,
    delivered: receiver.seen.size,
    duplicated: deliveredTotal - receiver.seen.size,
    lost: Math.max(lostEvents, lostAcked),
    stuck,
  };
}

export async function createEndpoint(base: string, apiKey: string, url: string): Promise<void> {
  const ep = await fetch(`${base}/api/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, events: ['*'] }),
  });
  if (ep.status !== 201) throw new Error(`creating the endpoint failed: ${ep.status} ${await ep.text()}`);
}
