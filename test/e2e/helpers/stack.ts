import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp, type App } from '../../../src/runtime/app.js';
import type { Clock } from '../../../src/clock.js';
import type { Config } from '../../../src/config.js';
import { createCompany, type Company } from '../../../src/domain/companies.js';
import { fileComplaint } from '../../../src/domain/complaints.js';
import { createConsumerWithToken } from '../../../src/domain/consumers.js';
import { createUser } from '../../../src/domain/users.js';
import { ensureDashboardBuilt } from '../../../src/web/build-dashboard.js';
import type { RunningWorker } from '../../../src/webhooks/worker.js';
import { startWorkerFor } from '../../helpers/webhooks.js';
import { createTestStore, testConfig, type TestStore } from '../../helpers/harness.js';

export const PASSWORD = 'correct horse battery';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on 127.0.0.1 that records every request and answers with a fixed status and short body. */
class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private waiters: Array<{ match: (r: ReceivedRequest) => boolean; resolve: (r: ReceivedRequest) => void }> = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(
    answer: { status: number; body: string } = { status: 200, body: 'ok received' },
  ): Promise<Receiver> {
    let self: Receiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        self!.requests.push(r);
        self!.waiters = self!.waiters.filter((w) => (w.match(r) ? (w.resolve(r), false) : true));
        res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/escalatr`);
    return self;
  }

  /** The first request (already received or still to come) that matches. */
  waitFor(match: (r: ReceivedRequest) => boolean): Promise<ReceivedRequest> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface Stack {
  baseUrl: string;
  app: App;
  config: Config;
  company: Company;
  consumerId: string;
  complaintIds: string[];
  receiver: Receiver;
  /** Answers every delivery with 503, so its deliveries fail and wait for a retry. */
  failingReceiver: Receiver;
  close(): Promise<void>;
}

/**
 * The whole product on loopback: the app listening on 127.0.0.1 over a fresh store, the delivery worker, the
 * built dashboard, a company with an owner and a viewer, some complaints, and a webhook receiver. A test may give
 * the app a manual clock (SLA windows pass when it says) and an SMTP server for the mail the app sends.
 */
export async function startStack(opts: { clock?: Clock; smtpUrl?: string } = {}): Promise<Stack> {
  await ensureDashboardBuilt();
  const testStore: TestStore = await createTestStore();
  const config = testConfig({
    allowHttpWebhooks: true,
    webhookAllowCidrs: ['127.0.0.0/8', '::1/128'],
    retryScheduleMs: [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000],
    smtpUrl: opts.smtpUrl ?? null,
  });
  const app = await buildApp({ config, store: testStore.store, clock: opts.clock, logger: false });
  await app.http.listen({ port: 0, host: '127.0.0.1' });
  const worker: RunningWorker = await startWorkerFor(app, config);
  const receiver = await Receiver.start();
  const failingReceiver = await Receiver.start({ status: 503, body: 'Service temporarily down for maintenance' });

  const ctx = app.ctx;
  const company = await createCompany(ctx, { name: 'Volt Appliances', code: 'VOLT', plan: 'professional' });
  await createUser(ctx, {
    companyId: company.id,
    email: 'owner@volt.test',
    password: PASSWORD,
    role: 'owner',
    name: 'Olivia Owner',
  });
  await createUser(ctx, { companyId: company.id, email: 'viewer@volt.test', password: PASSWORD, role: 'viewer' });
  await createUser(ctx, { companyId: company.id, email: 'agent@volt.test', password: PASSWORD, role: 'agent' });
  // A second company on a plan without API access, to see the API Keys tab explain why it is off.
  const starter = await createCompany(ctx, { name: 'Tiny Shop', code: 'TINY', plan: 'starter' });
  await createUser(ctx, { companyId: starter.id, email: 'owner@tiny.test', password: PASSWORD, role: 'owner' });
  const { consumer } = await createConsumerWithToken(ctx, { email: 'alice@example.test', name: 'Alice Sharma' });
  const complaintIds: string[] = [];
  const filings = [
    {
      complaint_category: 'Consumer Durables',
      title: 'Refrigerator stopped cooling after 3 weeks',
      description:
        'The fridge I bought on 2 April stopped cooling. Two service visits were booked and missed. I want a replacement or a refund.',
      priority: 'high' as const,
      amount_involved: 42000,
      currency: 'INR',
    },
    {
      complaint_category: 'Billing',
      title: 'Charged twice for the extended warranty',
      description: 'My card was charged twice for the same 2-year warranty.',
      priority: 'medium' as const,
      amount_involved: 3499,
      currency: 'INR',
    },
    {
      complaint_category: 'Delivery',
      title: 'Washing machine delivered with a dent',
      description: 'The drum door is dented; the delivery team left before I could check.',
      priority: 'low' as const,
      amount_involved: 27500,
      currency: 'INR',
    },
  ];
  for (const f of filings)
    complaintIds.push((await fileComplaint(ctx, { consumerId: consumer.id, company_code: 'VOLT', ...f })).escalatr_id);

  const baseUrl = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}`;
  // What PUBLIC_URL is on a deployment: links the server sends out (a Shield alert's record.url) open this server.
  // The port is known only now, and the app reads its config when it builds a link.
  config.publicUrl = baseUrl;
  return {
    baseUrl,
    app,
    config,
    company,
    consumerId: consumer.id,
    complaintIds,
    receiver,
    failingReceiver,
    close: async () => {
      await app.http.close();
      await worker.stop();
      await app.scheduler.stop();
      await receiver.close();
      await failingReceiver.close();
      await testStore.cleanup();
    },
  };
}
