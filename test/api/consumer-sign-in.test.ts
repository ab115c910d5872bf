import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { Config } from '../../src/config.js';
import {
  CONSUMER_SESSION_TTL_MS,
  LINKS_PER_ADDRESS,
  LINKS_PER_EMAIL,
  LINK_LIMIT_WINDOW_MS,
  SIGN_IN_LINK_TTL_MS,
} from '../../src/domain/consumer-sign-in.js';
import { createCompany } from '../../src/domain/companies.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { createLogger } from '../../src/logger.js';
import { buildApp, type App } from '../../src/runtime/app.js';
import { createTestStore, testConfig, type TestStore } from '../helpers/harness.js';
import { decodeQp, startSmtp } from '../helpers/smtp.js';

interface Portal {
  app: App;
  clock: ManualClock;
  logLines: string[];
  close(): Promise<void>;
}

/** The app with a real logger whose lines the test reads, as an operator reads the log in development. */
async function startPortal(overrides: Partial<Config> = {}): Promise<Portal> {
  const testStore: TestStore = await createTestStore();
  const clock = new ManualClock();
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const app = await buildApp({ config: testConfig(overrides), store: testStore.store, clock, logger });
  await app.http.ready();
  await createCompany(app.ctx, { name: 'Volt', code: 'VOLT', plan: 'professional' });
  return {
    app,
    clock,
    logLines,
    close: async () => {
      await app.scheduler.stop();
      await app.http.close();
      await testStore.cleanup();
    },
  };
}

const askLink = (p: Portal, email: string, ip = '127.0.0.1') =>
  p.app.http.inject({
    method: 'POST',
    url: '/api/consumer/session/link',
    payload: { email },
    remoteAddress: ip,
  });

const redeem = (p: Portal, token: string) =>
  p.app.http.inject({ method: 'POST', url: '/api/consumer/session/redeem', payload: { token } });

/** The token of the newest link the log shows for this address. */
function loggedToken(p: Portal, email: string): string {
  const lines = p.logLines.map((l) => JSON.parse(l) as { sign_in_link?: string; to?: string });
  const line = lines.filter((l) => l.sign_in_link && l.to === email).at(-1);
  if (!line?.sign_in_link) throw new Error(`no sign-in link logged for ${email}`);
  return new URLSearchParams(new URL(line.sign_in_link).hash.slice(1)).get('token')!;
}

const cookieOf = (res: { cookies: Array<{ name: string; value: string }> }) => {
  const c = res.cookies.find((x) => x.name === 'escalatr_consumer');
  if (!c) throw new Error('no portal cookie set');
  return `escalatr_consumer=${c.value}`;
};

const FILING = {
  company_code: 'VOLT',
  complaint_category: 'Billing',
  title: 'Charged twice',
  description: 'Two charges for one order',
};

describe('consumer portal sign-in by one-time link', () => {
  let p: Portal;
  afterEach(async () => p?.close());

  it('logs the link without SMTP; the link opens a session once, which works on the Consumer API with CSRF', async () => {
    p = await startPortal();
    const asked = await askLink(p, '  Bob@Example.TEST ');
    expect(asked.statusCode).toBe(202);
    expect(asked.json().data).toEqual({ sent: true, expires_in_seconds: SIGN_IN_LINK_TTL_MS / 1000 });
    const token = loggedToken(p, 'bob@example.test');
    expect(p.logLines.join('\n')).toContain('http://localhost:3000/portal/sign-in#token=csl_');
    // Only the hash is stored.
    const rows = await p.app.ctx.store.db.selectFrom('consumer_sign_in_links').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);

    const opened = await redeem(p, token);
    expect(opened.statusCode).toBe(200);
    const set = opened.cookies.find((c) => c.name === 'escalatr_consumer')!;
    expect(set).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(set.secure).toBeFalsy();
    const { csrf_token, consumer } = opened.json().data;
    expect(consumer).toEqual({ email: 'bob@example.test', name: null });
    const cookie = cookieOf(opened);

    const session = await p.app.http.inject({ method: 'GET', url: '/api/consumer/session', headers: { cookie } });
    expect(session.json().data.consumer.email).toBe('bob@example.test');
    const list = await p.app.http.inject({ method: 'GET', url: '/api/consumer/v1/complaints', headers: { cookie } });
    expect(list.statusCode).toBe(200);
    const noCsrf = await p.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: { cookie },
      payload: FILING,
    });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().error.code).toBe('csrf_failed');
    expect(await p.app.ctx.store.db.selectFrom('complaints').select('escalatr_id').execute()).toHaveLength(0);
    const filed = await p.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: { cookie, 'x-csrf-token': csrf_token },
      payload: FILING,
    });
    expect(filed.statusCode).toBe(201);
    expect(filed.json().data.consumer.email).toBe('bob@example.test');

    // Single use: the second time says so, and sets no cookie.
    const again = await redeem(p, token);
    expect(again.statusCode).toBe(410);
    expect(again.json().error).toMatchObject({ code: 'sign_in_link_invalid', details: { reason: 'used' } });
    expect(again.cookies).toHaveLength(0);

    const unknown = await redeem(p, 'csl_not-a-real-token');
    expect(unknown.json().error).toMatchObject({ code: 'sign_in_link_invalid', details: { reason: 'unknown' } });

    // Signing out needs the CSRF token, then the cookie opens nothing.
    const forged = await p.app.http.inject({
      method: 'POST',
      url: '/api/consumer/session/logout',
      headers: { cookie },
    });
    expect(forged.statusCode).toBe(403);
    const out = await p.app.http.inject({
      method: 'POST',
      url: '/api/consumer/session/logout',
      headers: { cookie, 'x-csrf-token': csrf_token },
    });
    expect(out.statusCode).toBe(200);
    const after = await p.app.http.inject({ method: 'GET', url: '/api/consumer/v1/complaints', headers: { cookie } });
    expect(after.statusCode).toBe(401);
  });

  it('a link expires after its lifetime and a session after its own (injected clock)', async () => {
    p = await startPortal();
    await askLink(p, 'late@example.test');
    const late = loggedToken(p, 'late@example.test');
    p.clock.advance(SIGN_IN_LINK_TTL_MS);
    const expired = await redeem(p, late);
    expect(expired.statusCode).toBe(410);
    expect(expired.json().error.details.reason).toBe('expired');

    await askLink(p, 'late@example.test');
    const fresh = loggedToken(p, 'late@example.test');
    p.clock.advance(SIGN_IN_LINK_TTL_MS - 1);
    const opened = await redeem(p, fresh);
    expect(opened.statusCode).toBe(200);
    const cookie = cookieOf(opened);
    p.clock.advance(CONSUMER_SESSION_TTL_MS - 1);
    expect(
      (await p.app.http.inject({ method: 'GET', url: '/api/consumer/v1/complaints', headers: { cookie } })).statusCode,
    ).toBe(200);
    p.clock.advance(1);
    expect(
      (await p.app.http.inject({ method: 'GET', url: '/api/consumer/v1/complaints', headers: { cookie } })).statusCode,
    ).toBe(401);
  });

  it('answers the same for a known and an unknown address, and creates the consumer only when the link is used', async () => {
    p = await startPortal();
    const { consumer, token: csk } = await createConsumerWithToken(p.app.ctx, { email: 'known@example.test' });
    const known = await askLink(p, 'known@example.test');
    const unknown = await askLink(p, 'nobody@example.test');
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
    const consumers = () => p.app.ctx.store.db.selectFrom('consumers').select('email').execute();
    expect((await consumers()).map((c) => c.email)).toEqual(['known@example.test']);

    // The known address signs in as the same consumer its token names: the two see the same complaints.
    const cookie = cookieOf(await redeem(p, loggedToken(p, 'known@example.test')));
    const filed = await p.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: { authorization: `Bearer ${csk}` },
      payload: FILING,
    });
    const id = filed.json().data.escalatr_id;
    const seen = await p.app.http.inject({
      method: 'GET',
      url: `/api/consumer/v1/complaints/${id}`,
      headers: { cookie },
    });
    expect(seen.statusCode).toBe(200);
    expect(consumer.email).toBe('known@example.test');

    const created = await redeem(p, loggedToken(p, 'nobody@example.test'));
    expect(created.statusCode).toBe(200);
    expect((await consumers()).map((c) => c.email).sort()).toEqual(['known@example.test', 'nobody@example.test']);
    // The new consumer sees none of the other's complaints.
    const other = await p.app.http.inject({
      method: 'GET',
      url: `/api/consumer/v1/complaints/${id}`,
      headers: { cookie: cookieOf(created) },
    });
    expect(other.statusCode).toBe(404);

    const malformed = await askLink(p, 'not an address');
    expect(malformed.statusCode).toBe(400);
  });

  it('limits links per address sent to and per requesting client address, within a window', async () => {
    p = await startPortal();
    for (let i = 0; i < LINKS_PER_EMAIL; i++) expect((await askLink(p, 'flood@example.test')).statusCode).toBe(202);
    const over = await askLink(p, 'flood@example.test', '127.0.0.2');
    expect(over.statusCode).toBe(429);
    expect(over.json().error.code).toBe('rate_limited');
    // The limit on one address leaves the others alone.
    expect((await askLink(p, 'calm@example.test')).statusCode).toBe(202);
    const linkRows = async () =>
      (await p.app.ctx.store.db.selectFrom('consumer_sign_in_links').select('id').execute()).length;
    const before = await linkRows();

    const ip = '127.0.0.9';
    for (let i = 0; i < LINKS_PER_ADDRESS; i++)
      expect((await askLink(p, `person${i}@example.test`, ip)).statusCode).toBe(202);
    expect((await askLink(p, 'one-more@example.test', ip)).statusCode).toBe(429);
    // A refused request issues no link (and mails nothing).
    expect(await linkRows()).toBe(before + LINKS_PER_ADDRESS);
    expect(p.logLines.some((l) => l.includes('one-more@example.test'))).toBe(false);

    p.clock.advance(LINK_LIMIT_WINDOW_MS);
    expect((await askLink(p, 'flood@example.test')).statusCode).toBe(202);
    expect((await askLink(p, 'one-more@example.test', ip)).statusCode).toBe(202);
  });

  it('with SMTP_URL mails the link and never logs it', async () => {
    const smtp = await startSmtp();
    try {
      p = await startPortal({ smtpUrl: `smtp://127.0.0.1:${smtp.port}?from=portal@escalatr.test` });
      expect((await askLink(p, 'mail@example.test')).statusCode).toBe(202);
      expect(smtp.mails).toHaveLength(1);
      expect(smtp.mails[0]).toMatchObject({ from: 'portal@escalatr.test', to: ['mail@example.test'] });
      const body = decodeQp(smtp.mails[0].raw);
      const link = /http:\/\/localhost:3000\/portal\/sign-in#token=(csl_[A-Za-z0-9_-]+)/.exec(body);
      expect(link).not.toBeNull();
      expect(p.logLines.join('\n')).not.toContain(link![1]);
      expect(p.logLines.join('\n')).not.toContain('/portal/sign-in');
      expect((await redeem(p, link![1])).statusCode).toBe(200);
    } finally {
      await smtp.close();
    }
  });

  it('answers 503 when the mail server refuses, without logging the link', async () => {
    const smtp = await startSmtp({ reject: true });
    try {
      p = await startPortal({ smtpUrl: `smtp://127.0.0.1:${smtp.port}` });
      const res = await askLink(p, 'bounce@example.test');
      expect(res.statusCode).toBe(503);
      expect(p.logLines.join('\n')).not.toContain('/portal/sign-in');
    } finally {
      await smtp.close();
    }
  });
});
