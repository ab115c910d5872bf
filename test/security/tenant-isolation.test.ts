import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { createTestApp, bearer, type TestApp } from '../helpers/harness.js';
import { call, session, tenant, type Answer, type Tenant } from '../api/platform-fixtures.js';
import { changedTables, snapshot } from './table-snapshot.js';

/**
 * SPEC §2: "Another company's object answers exactly like a missing one (404), never 403". Company ACME owns one
 * of everything (a complaint with every kind of record, an endpoint with a delivery, an automation, a feedback
 * record, an API key). Company VOLT, with its admin key, read key, an owner's dashboard session and its
 * consumer's token, calls every route that takes an id with ACME's ids and again with well-formed ids that do not
 * exist: the two answers must be identical (status and body), and nothing may change. Lists never show ACME's
 * objects, and a consumer never sees another consumer's complaint, even one filed against the same company.
 */

interface Ids {
  complaint: string;
  evidence: string;
  offer: string;
  followup: string;
  actionDraft: string;
  socialDraft: string;
  endpoint: string;
  delivery: string;
  apiKey: string;
  automation: string;
  feedback: string;
}

/** The same kind of id with a random part that was never issued. */
const missingLike = (id: string) => id.replace(/_[0-9a-z]+$/, `_${'0'.repeat(20)}`);

type Probe = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: object };

/** Staff routes that take an id; `own` is a complaint of the caller's company, for cross-record ids. */
function staffProbes(x: Ids, own: string): Probe[] {
  const c = `/api/v1/complaints/${x.complaint}`;
  return [
    { method: 'GET', url: c },
    { method: 'POST', url: `${c}/claim` },
    { method: 'POST', url: `${c}/release` },
    { method: 'POST', url: `${c}/complete`, payload: { resolution_notes: 'done' } },
    { method: 'POST', url: `${c}/messages`, payload: { body: 'hello' } },
    { method: 'POST', url: `${c}/settlements`, payload: { amount: 10, currency: 'EUR', terms: 'refund' } },
    { method: 'POST', url: `${c}/followups`, payload: { question: 'when?' } },
    { method: 'POST', url: `${c}/notes`, payload: { body: 'internal' } },
    { method: 'POST', url: `${c}/assign`, payload: { assignee: 'someone@example.test' } },
    ...['messages', 'settlements', 'social', 'followups', 'evidence', 'events', 'actions', 'notes'].map((p): Probe => ({
      method: 'GET',
      url: `${c}/${p}`,
    })),
    { method: 'GET', url: `${c}/evidence/${x.evidence}/content` },
    { method: 'GET', url: `/api/v1/complaints/${own}/evidence/${x.evidence}/content` },
    { method: 'GET', url: `/api/v1/webhooks/${x.endpoint}` },
    { method: 'PATCH', url: `/api/v1/webhooks/${x.endpoint}`, payload: { enabled: false } },
    { method: 'GET', url: `/api/v1/webhooks/${x.endpoint}/secret` },
    { method: 'POST', url: `/api/v1/webhooks/${x.endpoint}/secret/regenerate`, payload: { grace_period_s: 60 } },
    { method: 'POST', url: `/api/v1/webhooks/${x.endpoint}/test`, payload: { message: 'hi' } },
    { method: 'GET', url: `/api/v1/webhooks/${x.endpoint}/deliveries` },
    { method: 'POST', url: `/api/v1/webhooks/${x.endpoint}/recover`, payload: { since: '2020-01-01T00:00:00Z' } },
    { method: 'DELETE', url: `/api/v1/webhooks/${x.endpoint}` },
    { method: 'GET', url: `/api/v1/deliveries/${x.delivery}` },
    { method: 'POST', url: `/api/v1/deliveries/${x.delivery}/resend` },
    { method: 'DELETE', url: `/api/v1/api-keys/${x.apiKey}` },
    { method: 'GET', url: `/api/v1/automations/${x.automation}` },
    { method: 'PATCH', url: `/api/v1/automations/${x.automation}`, payload: { active: false } },
    { method: 'DELETE', url: `/api/v1/automations/${x.automation}` },
    { method: 'GET', url: `/api/v1/feedback/${x.feedback}` },
  ];
}

/** Consumer routes that take an id; `own` is a complaint of the calling consumer, for cross-record ids. */
function consumerProbes(x: Ids, own: string): Probe[] {
  const probesOn = (c: string): Probe[] => [
    { method: 'GET', url: c },
    { method: 'POST', url: `${c}/escalate` },
    { method: 'POST', url: `${c}/resolve`, payload: { resolution_type: 'refund' } },
    { method: 'POST', url: `${c}/withdraw`, payload: { reason_code: 'resolved_elsewhere' } },
    { method: 'POST', url: `${c}/delegate`, payload: { to_email: 'mallory@example.test', immediate_transfer: true } },
    { method: 'POST', url: `${c}/messages`, payload: { body: 'hello' } },
    {
      method: 'POST',
      url: `${c}/evidence`,
      payload: { file_name: 'a.txt', content_type: 'text/plain', content_base64: 'aGVsbG8=' },
    },
    { method: 'POST', url: `${c}/actions`, payload: { kind: 'chargeback', body: 'draft' } },
    { method: 'POST', url: `${c}/social`, payload: { platform: 'x', body: 'post' } },
    ...['messages', 'evidence', 'settlements', 'followups', 'actions', 'social', 'events'].map((p): Probe => ({
      method: 'GET',
      url: `${c}/${p}`,
    })),
  ];
  const recordProbes = (c: string): Probe[] => [
    { method: 'GET', url: `${c}/evidence/${x.evidence}/content` },
    { method: 'POST', url: `${c}/settlements/${x.offer}/respond`, payload: { action: 'accept' } },
    { method: 'POST', url: `${c}/followups/${x.followup}/answer`, payload: { answer: 'yes' } },
    { method: 'POST', url: `${c}/actions/${x.actionDraft}/file` },
    { method: 'POST', url: `${c}/social/${x.socialDraft}/posted` },
  ];
  const theirs = `/api/consumer/v1/complaints/${x.complaint}`;
  return [...probesOn(theirs), ...recordProbes(theirs), ...recordProbes(`/api/consumer/v1/complaints/${own}`)];
}

describe('tenant isolation: another company’s ids answer exactly like missing ones', () => {
  let t: TestApp;
  let volt: Tenant;
  let acme: Tenant;
  let foreign: Ids;
  let missing: Ids;
  let voltComplaint: string;
  let voltConsumerComplaint: string;
  /** Filed against VOLT by ACME's consumer: VOLT's staff may see it, VOLT's consumer may not. */
  let otherConsumersComplaint: string;
  let voltSession: Awaited<ReturnType<typeof session>>;

  const as = async (
    who: Tenant,
    method: Probe['method'],
    url: string,
    payload?: object,
    headers = bearer(who.adminKey),
  ) => {
    const a = await call(t, { method, url, headers, ...(payload ? { payload } : {}) } as InjectOptions);
    if (a.status >= 300) throw new Error(`${method} ${url}: ${a.status} ${JSON.stringify(a.body)}`);
    return a.body.data;
  };
  const fileAs = async (consumerOf: Tenant, companyCode: string) =>
    (
      await as(
        consumerOf,
        'POST',
        '/api/consumer/v1/complaints',
        { company_code: companyCode, complaint_category: 'Telecom', title: 'No signal', description: 'Since Monday' },
        bearer(consumerOf.consumerToken),
      )
    ).escalatr_id as string;

  beforeAll(async () => {
    t = await createTestApp();
    volt = await tenant(t, 'VOLT');
    acme = await tenant(t, 'ACME');
    voltSession = await session(t, volt.company.id, 'owner');

    // ACME's endpoint exists before its complaint, so the complaint's event has a delivery.
    const endpoint = await as(acme, 'POST', '/api/v1/webhooks', {
      url: 'https://hooks.acme.example/escalatr',
      events: ['*'],
      auth: { type: 'bearer', token: 'acme-token-123' },
    });
    const complaint = await fileAs(acme, 'ACME');
    const cc = `/api/consumer/v1/complaints/${complaint}`;
    const evidence = await as(
      acme,
      'POST',
      `${cc}/evidence`,
      { file_name: 'receipt.txt', content_type: 'text/plain', content_base64: 'cmVjZWlwdA==' },
      bearer(acme.consumerToken),
    );
    const offer = await as(acme, 'POST', `/api/v1/complaints/${complaint}/settlements`, {
      amount: 100,
      currency: 'EUR',
      terms: 'refund',
    });
    const followup = await as(acme, 'POST', `/api/v1/complaints/${complaint}/followups`, { question: 'Which store?' });
    const action = await as(
      acme,
      'POST',
      `${cc}/actions`,
      { kind: 'chargeback', body: 'Dear bank' },
      bearer(acme.consumerToken),
    );
    const social = await as(
      acme,
      'POST',
      `${cc}/social`,
      { platform: 'x', body: 'ACME ignores me' },
      bearer(acme.consumerToken),
    );
    const deliveries = await as(acme, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries`);
    const apiKey = await as(acme, 'POST', '/api/v1/api-keys', { name: 'crm' });
    const automation = await as(acme, 'POST', '/api/v1/automations', {
      name: 'Risk',
      active: true,
      filter: { min_level: 'high' },
      destinations: [],
    });
    await as(acme, 'POST', '/api/v1/feedback', { id: 'fb-acme-1', source: 'Zendesk', content: 'I will sue you' });
    foreign = {
      complaint,
      evidence: evidence.evidence_id,
      offer: offer.offer_id,
      followup: followup.followup_id,
      actionDraft: action.draft_id,
      socialDraft: social.draft_id,
      endpoint: endpoint.id,
      delivery: deliveries[0].id,
      apiKey: apiKey.id,
      automation: automation.id,
      feedback: 'fb-acme-1',
    };
    missing = {
      ...(Object.fromEntries(Object.entries(foreign).map(([k, v]) => [k, missingLike(v)])) as unknown as Ids),
      complaint: 'ESC-ACME-260417-99999',
      feedback: 'fb-missing-1',
    };
    voltComplaint = await fileAs(volt, 'VOLT');
    voltConsumerComplaint = voltComplaint;
    otherConsumersComplaint = await fileAs(acme, 'VOLT');
  });
  afterAll(async () => t.close());

  /** The answer's text with every one of ACME's ids swapped for its missing counterpart. */
  const asIfMissing = (
    body: unknown,
    swap: Array<[string, string]> = Object.keys(foreign).map((k) => [foreign[k as keyof Ids], missing[k as keyof Ids]]),
  ) => swap.reduce((text, [from, to]) => text.split(from).join(to), JSON.stringify(body));

  /** Calls a probe with ACME's ids and with missing ids: the answers must be the same, and 404 where it counts. */
  async function expectLikeMissing(
    credential: Record<string, string>,
    probes: (x: Ids) => Probe[],
    expectedStatus: (p: Probe) => number,
  ) {
    const before = await snapshot(t.store.db);
    const theirs = probes(foreign);
    const none = probes(missing);
    const mismatches: string[] = [];
    for (let i = 0; i < theirs.length; i++) {
      const a: Answer = await call(t, {
        method: theirs[i].method,
        url: theirs[i].url,
        headers: credential,
        ...(theirs[i].payload ? { payload: theirs[i].payload } : {}),
      } as InjectOptions);
      const b: Answer = await call(t, {
        method: none[i].method,
        url: none[i].url,
        headers: credential,
        ...(none[i].payload ? { payload: none[i].payload } : {}),
      } as InjectOptions);
      const want = expectedStatus(theirs[i]);
      // A message may name the id the caller sent; apart from that the answers must be the same.
      const problem =
        a.status !== want
          ? `answered ${a.status} (${JSON.stringify(a.body)}), expected ${want}`
          : asIfMissing(a.body) !== JSON.stringify(b.body) || a.status !== b.status
            ? `differs from a missing id: ${JSON.stringify(a.body)} vs ${b.status} ${JSON.stringify(b.body)}`
            : a.body?.success !== false || typeof a.body?.error?.code !== 'string'
              ? `no error envelope: ${JSON.stringify(a.body)}`
              : null;
      if (problem) mismatches.push(`${theirs[i].method} ${theirs[i].url}: ${problem}`);
    }
    expect(mismatches).toEqual([]);
    expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);
  }

  it('VOLT’s admin key: every staff route with ACME’s ids is a 404 like a missing id, and changes nothing', async () => {
    await expectLikeMissing(
      bearer(volt.adminKey),
      (x) => staffProbes(x, voltComplaint),
      () => 404,
    );
  });

  it('VOLT’s owner session (with its CSRF token) gets the same 404s', async () => {
    await expectLikeMissing(
      voltSession.withCsrf,
      (x) => staffProbes(x, voltComplaint),
      () => 404,
    );
  });

  it('VOLT’s read key: reads are 404 like missing ids; writes and webhook routes are refused for scope before any lookup', async () => {
    const adminOnly = (p: Probe) => p.method !== 'GET' || /^\/api\/v1\/(webhooks|deliveries)\//.test(p.url);
    await expectLikeMissing(
      bearer(volt.readKey),
      (x) => staffProbes(x, voltComplaint),
      (p) => (adminOnly(p) ? 403 : 404),
    );
  });

  it('VOLT’s consumer: ACME’s complaint and every record id of it, even under the consumer’s own complaint, are 404', async () => {
    await expectLikeMissing(
      bearer(volt.consumerToken),
      (x) => consumerProbes(x, voltConsumerComplaint),
      () => 404,
    );
  });

  it('a consumer cannot read or act on another consumer’s complaint against the same company', async () => {
    const asMissing = { ...missing, complaint: 'ESC-VOLT-260417-99999' };
    const asOther = { ...missing, complaint: otherConsumersComplaint };
    const before = await snapshot(t.store.db);
    const theirs = consumerProbes(asOther, voltConsumerComplaint).slice(0, 16);
    const none = consumerProbes(asMissing, voltConsumerComplaint).slice(0, 16);
    for (let i = 0; i < theirs.length; i++) {
      const a = await call(t, {
        method: theirs[i].method,
        url: theirs[i].url,
        headers: bearer(volt.consumerToken),
        ...(theirs[i].payload ? { payload: theirs[i].payload } : {}),
      } as InjectOptions);
      const b = await call(t, {
        method: none[i].method,
        url: none[i].url,
        headers: bearer(volt.consumerToken),
        ...(none[i].payload ? { payload: none[i].payload } : {}),
      } as InjectOptions);
      expect([theirs[i].url, a.status, asIfMissing(a.body, [[otherConsumersComplaint, asMissing.complaint]])]).toEqual([
        theirs[i].url,
        404,
        JSON.stringify(b.body),
      ]);
    }
    expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);
    // VOLT's staff, on the other hand, do see it: it was filed against VOLT.
    expect(
      (
        await call(t, {
          method: 'GET',
          url: `/api/v1/complaints/${otherConsumersComplaint}`,
          headers: bearer(volt.readKey),
        })
      ).status,
    ).toBe(200);
    const mine = await call(t, {
      method: 'GET',
      url: '/api/consumer/v1/complaints',
      headers: bearer(volt.consumerToken),
    });
    expect(mine.body.data.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([voltConsumerComplaint]);
  });

  it('ACME’s own credentials reach every one of those ids (the probes above hit real objects)', async () => {
    for (const p of staffProbes(foreign, foreign.complaint).filter((q) => q.method === 'GET')) {
      const a = await call(t, { method: 'GET', url: p.url, headers: bearer(acme.adminKey) });
      expect([p.url, a.status]).toEqual([p.url, 200]);
    }
    const c = `/api/consumer/v1/complaints/${foreign.complaint}`;
    expect(
      (
        await call(t, {
          method: 'GET',
          url: `${c}/evidence/${foreign.evidence}/content`,
          headers: bearer(acme.consumerToken),
        })
      ).status,
    ).toBe(200);
  });

  it('no list, filter or count shows VOLT anything of ACME’s, whatever credential it uses', async () => {
    const acmeIds = Object.values(foreign)
      .filter((v) => v !== 'fb-acme-1')
      .concat(acme.company.id, 'fb-acme-1', 'hooks.acme.example');
    const lists = [
      '/api/v1/complaints',
      `/api/v1/events?limit=100`,
      `/api/v1/events?escalatr_id=${foreign.complaint}`,
      '/api/v1/webhooks',
      '/api/v1/deliveries?limit=100',
      `/api/v1/deliveries?endpoint_id=${foreign.endpoint}`,
      '/api/v1/deliveries/stats',
      '/api/v1/api-keys',
      '/api/v1/automations',
      '/api/v1/feedback',
      '/api/v1/me',
    ];
    for (const credential of [bearer(volt.adminKey), bearer(volt.readKey), voltSession.cookie]) {
      for (const url of lists) {
        const a = await call(t, { method: 'GET', url, headers: credential });
        if (a.status === 403) continue; // the read key may not list keys; that is not a leak
        expect([url, a.status]).toEqual([url, 200]);
        const text = JSON.stringify(a.body);
        expect([url, acmeIds.filter((id) => text.includes(id))]).toEqual([url, []]);
      }
    }
    const filtered = await call(t, {
      method: 'GET',
      url: `/api/v1/events?escalatr_id=${foreign.complaint}`,
      headers: bearer(volt.adminKey),
    });
    expect(filtered.body.total).toBe(0);
    const consumerList = await call(t, {
      method: 'GET',
      url: '/api/consumer/v1/complaints',
      headers: bearer(volt.consumerToken),
    });
    expect(JSON.stringify(consumerList.body)).not.toContain(foreign.complaint);
  });
});
