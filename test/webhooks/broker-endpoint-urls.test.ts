import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEndpoint, setupWebhooks } from './endpoints-helpers.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;

/** Saving broker URLs over the API: what is refused, and that the password is sealed and never shown. */
describe('broker endpoint URLs', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setupWebhooks({ webhookAllowCidrs: [] });
  });
  afterEach(async () => s.t.close());

  it('refuses malformed or unreachable broker URLs with invalid_url and a message to act on, writing nothing', async () => {
    const cases: [string, RegExp][] = [
      ['amqp://broker.example.com', /exchange/],
      ['amqp://broker.example.com/ex?queue=x', /unknown setting "queue"; amqp:\/\/ URLs take routing_key, vhost/],
      ['amqp://broker.example.com/bad exchange', /spaces/],
      ['nats://broker.example.com:4222/', /subject/],
      ['nats://broker.example.com/orders.*', /wildcards/],
      ['redis://broker.example.com/stream?maxlen=0', /maxlen must be a whole number/],
      ['redis://broker.example.com/stream?db=2', /take maxlen/],
      ['mqtt://broker.example.com/a/+/b', /wildcards/],
      // `#` is MQTT's other wildcard, not a fragment to the one who typed it.
      ['mqtt://broker.example.com/a/#', /^the topic must not contain the wildcards \+ and #/],
      ['mqtts://broker.example.com/#', /wildcards/],
      ['mqtt://broker.example.com/t?x=1', /no query settings/],
      ['mqtt://127.0.0.1:1883/t', /loopback/],
      ['nats://10.0.0.7/s', /private/],
      ['redis://broker.example.com/s#frag', /fragment/],
    ];
    for (const [url, message] of cases) {
      const res = await s.api.post('/webhooks', { url, events: ['*'] });
      expect([url, res.status, res.body.error?.code]).toEqual([url, 400, 'invalid_url']);
      expect(res.body.error.message).toMatch(message);
    }
    const bearerOnBroker = await s.api.post('/webhooks', {
      url: 'amqp://broker.example.com/ex',
      events: ['*'],
      auth: { type: 'bearer', token: 'tok_123456' },
    });
    expect([bearerOnBroker.status, bearerOnBroker.body.error.details.field]).toEqual([400, 'auth.type']);
    expect((await s.api.get('/webhooks')).body.data).toEqual([]);
  });

  it('seals the password: never in an answer, kept by an edit for the same host, dropped for another', async () => {
    const ep = await createEndpoint(s.api, {
      url: 'amqp://app:s3cr3t-pw@Broker.Example.com:5672/events?routing_key=k',
    });
    // Stored as https:// URLs are: the host lowercased, the scheme's own port left out.
    expect(ep.url).toBe('amqp://app@broker.example.com/events?routing_key=k');
    expect(ep.has_url_password).toBe(true);
    const listed = await s.api.get('/webhooks');
    expect(listed.raw).not.toContain('s3cr3t-pw');
    const row = await s.t.store.db.selectFrom('endpoints').selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('s3cr3t-pw');
    expect(s.t.app.ctx.box.open(row.url_password_enc!)).toBe('s3cr3t-pw');

    // Same host and port, another exchange: the stored password stays.
    const moved = await s.api.patch(`/webhooks/${ep.id}`, { url: 'amqp://app@broker.example.com/other' });
    expect([moved.status, moved.body.data.has_url_password]).toEqual([200, true]);
    // Another host: it does not follow.
    const away = await s.api.patch(`/webhooks/${ep.id}`, { url: 'amqp://app@elsewhere.example.com/other' });
    expect([away.status, away.body.data.has_url_password]).toEqual([200, false]);
    // Typed again: sealed again; back to HTTPS: gone.
    const again = await s.api.patch(`/webhooks/${ep.id}`, { url: 'amqp://app:n3w-pw@elsewhere.example.com/other' });
    expect(again.body.data.has_url_password).toBe(true);
    const https = await s.api.patch(`/webhooks/${ep.id}`, { url: 'https://hooks.example.com/x' });
    expect([https.status, https.body.data.has_url_password]).toEqual([200, false]);
    const after = await s.t.store.db.selectFrom('endpoints').select('url_password_enc').executeTakeFirstOrThrow();
    expect(after.url_password_enc).toBeNull();
  });

  it('takes the TLS schemes (amqps, tls for NATS, rediss, mqtts) with their default ports; the password stays with the scheme', async () => {
    const ep = await createEndpoint(s.api, { url: 'amqps://app:s3cr3t-pw@broker.example.com/events' });
    expect([ep.url, ep.has_url_password]).toEqual(['amqps://app@broker.example.com/events', true]);
    // 5671 is amqps's own port: the same origin, so the password stays.
    const samePort = await s.api.patch(`/webhooks/${ep.id}`, { url: 'amqps://app@broker.example.com:5671/other' });
    expect([samePort.status, samePort.body.data.has_url_password]).toEqual([200, true]);
    expect(samePort.body.data.url).toBe('amqps://app@broker.example.com/other');
    // Plain AMQP to the same host is another origin: the password is not sent there unless typed again.
    const plain = await s.api.patch(`/webhooks/${ep.id}`, { url: 'amqp://app@broker.example.com:5671/other' });
    expect([plain.status, plain.body.data.has_url_password]).toEqual([200, false]);
    expect(plain.body.data.url).toBe('amqp://app@broker.example.com:5671/other');
    for (const url of [
      'rediss://broker.example.com:6380/stream?maxlen=50',
      'mqtts://broker.example.com/esc/hooks',
      'tls://broker.example.com/orders.created',
    ]) {
      const res = await s.api.post('/webhooks', { url, events: ['*'] });
      expect([url, res.status, res.body.data?.url]).toEqual([url, 201, url]);
    }
    const refused: [string, RegExp][] = [
      [
        'natss://broker.example.com/s',
        /^URL must start with https:\/\/, or name a message broker: amqp\(s\):\/\/.*tls:\/\//,
      ],
      ['amqps://127.0.0.1/ex', /loopback/],
      ['mqtts://broker.example.com/a/+', /wildcards/],
      ['tls://broker.example.com/', /^name the subject in the path: tls:\/\/host:4222\/subject$/],
      ['mqtts://broker.example.com', /^name the topic in the path: mqtts:\/\/host:8883\/topic$/],
    ];
    for (const [url, message] of refused) {
      const res = await s.api.post('/webhooks', { url, events: ['*'] });
      expect([url, res.status, res.body.error?.code]).toEqual([url, 400, 'invalid_url']);
      expect(res.body.error.message).toMatch(message);
    }
  });
});
