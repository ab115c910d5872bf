import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { buildApp } from '../../src/runtime/app.js';
import { ManualClock } from '../../src/clock.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { createLogger, REDACTED } from '../../src/logger.js';
import { ShieldProcessor } from '../../src/shield/processor.js';
import { deliveryTargets } from '../../src/runtime/delivery-targets.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { startWorkerFor } from '../helpers/webhooks.js';
import { bearer, createTestStore, OWNER_PASSWORD, seedTenant, testConfig, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/** Every JSON line the app, the worker and the Shield processor log, at the most verbose level. */
class LogBuffer extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  }
  text() {
    return this.lines.join('\n');
  }
}

/**
 * SPEC §9 "never secrets or keys" in the logs: the app runs with a trace-level pino logger writing to a buffer
 * while every credential path is exercised (API keys, consumer tokens, logins right and wrong, sessions and CSRF
 * tokens, webhook secrets and their rotation, endpoint and Shield destination credentials, deliveries to a
 * receiver that fails and echoes every header back, store failures that log errors). Then every one of those
 * values is looked for in the captured text.
 */
describe('secrets and keys never reach the logs', () => {
  const logs = new LogBuffer();
  const secrets = new Map<string, string>();
  const keep = (what: string, value: string | undefined | null) => {
    if (!value) throw new Error(`expected a value for ${what}`);
    secrets.set(what, value);
    return value;
  };
  let t: TestApp;
  let rx: Receiver;
  let worker: RunningWorker;
  let logger: ReturnType<typeof createLogger>;

  beforeAll(async () => {
    // Failing deliveries: the receiver answers 500 with every header it got (signatures, credentials) in the body.
    rx = await startReceiver({ behaviour: (req) => ({ status: 500, body: JSON.stringify(req.headers) }) });
    const testStore = await createTestStore();
    logger = createLogger({ level: 'trace', destination: logs });
    const config = testConfig({ logLevel: 'trace' });
    const clock = new ManualClock(Date.now());
    const app = await buildApp({ config, store: testStore.store, clock, logger });
    await app.http.ready();
    t = {
      app,
      clock,
      store: testStore.store,
      testStore,
      config,
      close: async () => {
        await app.http.close();
        await testStore.cleanup();
      },
    };
    worker = await startWorkerFor(app, config, {
      log: logger,
      autoStart: false,
      targets: deliveryTargets(),
    });
    keep('master key (hex)', config.masterKey.toString('hex'));
    keep('master key (base64)', config.masterKey.toString('base64'));
  });
  afterAll(async () => {
    await worker.stop();
    await rx.close();
    await t.close();
  });

  const inject = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    payload?: object,
  ) => t.app.http.inject({ method, url, headers, ...(payload ? { payload } : {}) });

  it('exercises every credential path with logging at trace level', async () => {
    const tenant = await seedTenant(t);
    keep('admin key', tenant.adminKey);
    keep('read key', tenant.readKey);
    keep('consumer token', tenant.consumerToken);
    keep('owner password', OWNER_PASSWORD);
    const other = await createConsumerWithToken(t.app.ctx, { email: 'bob@example.test', name: 'Bob' });
    keep('second consumer token', other.token);

    // Logins: wrong passwords (a real and an unknown account), then the right one; its cookie and CSRF token.
    for (const [email, password] of [
      [tenant.owner.email, 'wrong-password-Zq81x'],
      ['nobody@volt.test', 'guess-password-Kd02p'],
    ]) {
      keep(`wrong password for ${email}`, password);
      expect((await inject('POST', '/api/session/login', {}, { email, password })).statusCode).toBe(401);
    }
    const login = await inject(
      'POST',
      '/api/session/login',
      {},
      { email: tenant.owner.email, password: OWNER_PASSWORD },
    );
    expect(login.statusCode).toBe(200);
    const cookie = keep('session cookie', /escalatr_session=([^;]+)/.exec(String(login.headers['set-cookie']))?.[1]);
    const csrf = keep('csrf token', login.json().data.csrf_token);
    const session = { cookie: `escalatr_session=${cookie}`, 'x-csrf-token': csrf };
    expect((await inject('GET', '/api/session', session)).statusCode).toBe(200);

    // API keys: made through a session and through a key; wrong and revoked keys are refused.
    const k1 = await inject('POST', '/api/v1/api-keys', session, { name: 'crm', scope: 'admin' });
    expect(k1.statusCode).toBe(201);
    const newKey = keep('new api key', k1.json().data.key);
    const k2 = await inject('POST', '/api/v1/api-keys', bearer(newKey), { name: 'ci' });
    keep('second new api key', k2.json().data.key);
    expect((await inject('DELETE', `/api/v1/api-keys/${k2.json().data.id}`, bearer(tenant.adminKey))).statusCode).toBe(
      200,
    );
    expect((await inject('GET', '/api/v1/me', bearer(k2.json().data.key))).statusCode).toBe(401);
    const guessed = keep('guessed api key', 'esc_guessedGuessedGuessedGuessed0123456789abc');
    expect((await inject('GET', '/api/v1/complaints', { 'x-api-key': guessed })).statusCode).toBe(401);
    expect(
      (await inject('GET', '/api/consumer/v1/complaints', bearer('csk_guessedGuessedGuessed0123456789'))).statusCode,
    ).toBe(401);

    // Webhook endpoints with each kind of credential, the secret revealed and rotated with a grace period.
    const auths = [
      { type: 'bearer', token: keep('endpoint bearer token', 'ep-bearer-Secret-4f9a1c') },
      { type: 'api_key', token: keep('endpoint api_key token', 'ep-apikey-Secret-77b2e0') },
      {
        type: 'custom_header',
        header_name: 'X-Partner-Auth',
        token: keep('endpoint custom token', 'ep-custom-Secret-0d3c5e'),
      },
    ];
    const endpointIds: string[] = [];
    for (const [i, auth] of auths.entries()) {
      const r = await inject('POST', '/api/v1/webhooks', bearer(tenant.adminKey), {
        url: `${rx.url}?n=${i}`,
        events: ['*'],
        auth,
      });
      expect(r.statusCode).toBe(201);
      keep(`endpoint ${i} secret`, r.json().data.secret);
      endpointIds.push(r.json().data.id);
    }
    const reveal = await inject('GET', `/api/v1/webhooks/${endpointIds[0]}/secret`, session);
    expect(reveal.json().data.secret).toBe(secrets.get('endpoint 0 secret'));
    const rotated = await inject('POST', `/api/v1/webhooks/${endpointIds[0]}/secret/regenerate`, session, {
      grace_period_s: 3600,
    });
    keep('rotated endpoint secret', rotated.json().data.secret);
    const patched = await inject('PATCH', `/api/v1/webhooks/${endpointIds[1]}`, bearer(tenant.adminKey), {
      auth: { type: 'bearer', token: keep('patched token', 'ep-patched-Secret-a1b2c3') },
    });
    expect(patched.statusCode).toBe(200);

    // Shield destinations: a webhook with a bearer token and a Slack URL (its path is a secret).
    const slackUrl = keep(
      'slack url secret',
      `${rx.url.replace('/hook', '')}/services/T000/B000/slackSecretPath9f8e7d`,
    );
    const automation = await inject('POST', '/api/v1/automations', bearer(tenant.adminKey), {
      name: 'Risk',
      active: true,
      filter: { min_level: 'low' },
      destinations: [
        {
          type: 'webhook',
          url: `${rx.url}?shield=1`,
          auth: { type: 'bearer', token: keep('shield bearer token', 'shield-bearer-Secret-5e6f') },
        },
        { type: 'slack', url: slackUrl },
      ],
    });
    expect(automation.statusCode, automation.body).toBe(201);

    // Traffic: complaints, a test event and a feedback alert, all failing at the echoing receiver, with retries.
    const filed = await inject('POST', '/api/consumer/v1/complaints', bearer(tenant.consumerToken), {
      company_code: 'VOLT',
      complaint_category: 'Telecom',
      title: 'No signal',
      description: 'Since Monday',
    });
    expect(filed.statusCode).toBe(201);
    expect(
      (await inject('POST', `/api/v1/webhooks/${endpointIds[2]}/test`, session, { message: 'ping' })).statusCode,
    ).toBe(201);
    expect(
      (
        await inject('POST', '/api/v1/feedback', bearer(newKey), {
          id: 'fb-1',
          source: 'Zendesk',
          content: 'UNACCEPTABLE!!! I will sue you and file a chargeback.',
        })
      ).statusCode,
    ).toBe(202);
    await new ShieldProcessor(t.app.ctx, { log: logger }).tick();
    expect(await worker.worker.drain()).toBeGreaterThanOrEqual(6);
    t.clock.advance(t.config.retryScheduleMs[0]);
    expect(await worker.worker.drain()).toBeGreaterThanOrEqual(6);
    for (const r of rx.requests) {
      for (const h of ['x-escalatr-signature', 'webhook-signature', 'authorization', 'x-api-key', 'x-partner-auth']) {
        const v = r.headers[h];
        if (typeof v === 'string') keep(`delivered ${h} ${secrets.size}`, v.replace(/^Bearer /, ''));
      }
    }

    // Error paths that log at error level: a delivery whose sealed secret cannot be opened, and a store failure
    // in the middle of a request that carries a credential (the table is renamed away for a moment).
    await t.store.db
      .updateTable('endpoints')
      .set({ secret_enc: 'v1.broken.broken.broken' })
      .where('id', '=', endpointIds[1])
      .execute();
    await inject('POST', `/api/v1/webhooks/${endpointIds[1]}/test`, bearer(tenant.adminKey), {});
    await worker.worker.drain();
    await sql`alter table endpoints rename to endpoints_away`.execute(t.store.db);
    try {
      const refused = await inject('POST', '/api/v1/webhooks', bearer(tenant.adminKey), {
        url: rx.url,
        events: ['*'],
        auth: { type: 'bearer', token: keep('token sent while the store fails', 'failing-bearer-Secret-9c8d') },
      });
      expect(refused.statusCode).toBe(500);
    } finally {
      await sql`alter table endpoints_away rename to endpoints`.execute(t.store.db);
    }
    expect((await inject('POST', '/api/session/logout', session)).statusCode).toBe(200);
  });

  it('none of those values appears anywhere in the captured logs', () => {
    const text = logs.text();
    // The logger did run at trace level (requests, errors and the worker all wrote lines).
    expect(logs.lines.length).toBeGreaterThan(40);
    expect(text).toContain('incoming request');
    expect(text).toContain('request failed');
    expect(text).toContain('could not prepare delivery');
    expect(secrets.size).toBeGreaterThan(20);
    const leaked = [...secrets].filter(([, value]) => text.includes(value)).map(([what]) => what);
    expect(leaked).toEqual([]);
  });

  it('redacts credentials by name at any depth and in either header spelling', () => {
    const buffer = new LogBuffer();
    const log = createLogger({ level: 'trace', destination: buffer });
    log.info({
      authorization: 'a-top-level',
      req: { headers: { authorization: 'b-request-header', cookie: 'c-cookie', 'x-api-key': 'd-key-header' } },
      plan: {
        headers: {
          Authorization: 'e-delivery-header',
          'X-Escalatr-Signature': 'f-signature',
          'webhook-signature': 'g-standard',
        },
      },
      err: { config: { headers: { Authorization: 'h-nested-three-deep' } }, token: 'i-token' },
      endpoint: { auth: { token: 'j-auth-token' }, secret: 'k-secret' },
      config: {
        masterKey: 'l-master',
        smtpUrl: 'smtp://user:m-smtp-pass@mail',
        databaseUrl: 'postgres://u:n-db-pass@db/x',
      },
      login: { password: 'o-password' },
    });
    const line = buffer.text();
    for (const value of [
      'a-top',
      'b-request',
      'c-cookie',
      'd-key',
      'e-delivery',
      'f-signature',
      'g-standard',
      'h-nested',
      'i-token',
      'j-auth',
      'k-secret',
      'l-master',
      'm-smtp',
      'n-db',
      'o-password',
    ]) {
      expect(line, value).not.toContain(value);
    }
    expect(line).toContain(REDACTED);
  });
});
