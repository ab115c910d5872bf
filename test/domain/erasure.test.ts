import { existsSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transact } from '../../src/domain/context.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { EVENT_BODIES, scanForAddress } from '../../src/domain/erasure.js';
import { DAY_MS, setRetentionByCode } from '../../src/domain/retention.js';
import { buildAlertPayload, emitShieldAlert } from '../../src/shield/alerts.js';
import type { Store } from '../../src/storage/db.js';
import { bearer, createTestApp, dialectName, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

const OPERATOR_TOKEN = 'erasure-test-operator-token';
// An underscore and a plus: LIKE wildcards and a character regular expressions care about, both matched literally.
const EMAIL = 'zelda.q_erase+x@example.test';
const NAME = 'Zelda Quillfeather';
const PHRASE = 'purple kangaroo toaster incident';
const C = '/api/consumer/v1';
const P = '/api/v1';

/** Every table and text-like column of the store, searched for `needle` (case-insensitive); returns "table.column" hits. */
async function findCopies(store: Store, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const lower = needle.toLowerCase();
  if (store.profile.name === 'sqlite') {
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db);
    for (const { name } of tables.rows) {
      const columns = await sql<{ name: string }>`select name from pragma_table_info(${name})`.execute(store.db);
      for (const col of columns.rows) {
        const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(name)}
          where instr(lower(cast(${sql.ref(col.name)} as text)), ${lower}) > 0`.execute(store.db);
        if (Number(rows[0].n) > 0) hits.push(`${name}.${col.name}`);
      }
    }
    return hits;
  }
  const columns = await sql<{ table_name: string; column_name: string; data_type: string }>`
    select c.table_name, c.column_name, c.data_type from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      and c.data_type in ('text', 'character varying', 'jsonb', 'json', 'bytea')`.execute(store.db);
  for (const c of columns.rows) {
    const expr =
      c.data_type === 'bytea'
        ? sql`position(convert_to(${lower}, 'UTF8') in lower(encode(${sql.ref(c.column_name)}, 'escape'))::bytea) > 0`
        : sql`strpos(lower(${sql.ref(c.column_name)}::text), ${lower}) > 0`;
    const { rows } = await sql<{
      n: number;
    }>`select count(*) as n from ${sql.table(c.table_name)} where ${expr}`.execute(store.db);
    if (Number(rows[0].n) > 0) hits.push(`${c.table_name}.${c.column_name}`);
  }
  return hits;
}

describe(`erasing a consumer leaves no copy of them (${dialectName})`, () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  beforeEach(async () => {
    t = await createTestApp({ config: { operatorToken: OPERATOR_TOKEN } });
    // A receiver that echoes what it was sent (many do), failing until told otherwise: deliveries stay pending.
    let failing = true;
    rx = await startReceiver({
      behaviour: (r) =>
        failing ? { status: 500, body: `rejected ${r.body.toString()}` } : { status: 200, body: 'ok' },
    });
    (rx as Receiver & { heal(): void }).heal = () => (failing = false);
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w?.stop();
    await rx?.close();
    await t?.close();
  });

  it('redacts complaints, messages, evidence, events, attempt excerpts and Shield records; pending deliveries send the redacted body', async () => {
    const v = await seedTenant(t);
    const admin = bearer(v.adminKey);
    await addEndpoint(t, v.company.id, rx.url);
    const { token } = await createConsumerWithToken(t.app.ctx, { email: EMAIL, name: NAME });
    const zelda = bearer(token);
    const inject = async (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: object) => {
      const r = await t.app.http.inject({ method, url, headers, payload });
      expect(r.statusCode, `${method} ${url}: ${r.body}`).toBeLessThan(300);
      return r.json().data;
    };

    const filed = await inject('POST', `${C}/complaints`, zelda, {
      company_code: 'VOLT',
      complaint_category: 'Consumer Durables',
      title: `${NAME}: toaster on fire`,
      description: `The ${PHRASE} happened on Tuesday; write to ${EMAIL}.`,
      priority: 'high',
      amount_involved: 4200,
      currency: 'INR',
    });
    const id = filed.escalatr_id as string;
    await inject('POST', `${C}/complaints/${id}/messages`, zelda, {
      body: `Please hurry, the ${PHRASE} scared my cat`,
    });
    await inject('POST', `${C}/complaints/${id}/evidence`, zelda, {
      file_name: 'zelda-quillfeather-receipt.txt',
      content_type: 'text/plain',
      content_base64: Buffer.from(`Receipt for ${NAME}: ${PHRASE}`).toString('base64'),
    });
    await inject('POST', `${P}/complaints/${id}/claim`, admin);
    const followup = await inject('POST', `${P}/complaints/${id}/followups`, admin, {
      question: `Dear ${NAME}, when did it start?`,
    });
    await inject('POST', `${C}/complaints/${id}/followups/${followup.followup_id}/answer`, zelda, {
      answer: `Right after the ${PHRASE}`,
    });
    await inject('POST', `${C}/complaints/${id}/actions`, zelda, { kind: 'formal_notice', body: `Notice: ${PHRASE}` });
    await inject('POST', `${C}/complaints/${id}/social`, zelda, { platform: 'x', body: `Shame on VOLT: ${PHRASE}` });
    await inject('POST', `${P}/complaints/${id}/messages`, admin, { body: `We are sorry, ${NAME}.` });
    // An internal note quoting the person: staff text, kept with their identity and words cut out.
    await inject('POST', `${P}/complaints/${id}/notes`, admin, { body: `${NAME} (${EMAIL}) called twice.` });
    await inject('POST', `${C}/complaints/${id}/delegate`, zelda, {
      to_email: 'helper@example.test',
      immediate_transfer: false,
    });
    await inject('POST', `${P}/complaints/${id}/complete`, admin, {
      resolution_notes: `Refunded ${NAME} (${EMAIL}) in full.`,
    });
    // Shield: a record whose customer is Zelda, and an alert that quotes it.
    await inject('POST', `${P}/feedback`, admin, {
      id: 'fb-zelda-1',
      source: 'ZendeskSupport',
      source_url: 'https://support.example.test/tickets/zelda',
      content: `I am furious about the ${PHRASE}, I will call my lawyer`,
      customer_id: EMAIL,
      thread_id: 'thread-z',
    });
    // And one whose thread is keyed by the address.
    await inject('POST', `${P}/feedback`, admin, {
      id: 'fb-zelda-2',
      source: 'Email',
      content: 'Second note: still waiting for the refund',
      customer_id: 'cust-9',
      thread_id: EMAIL,
    });
    await transact(t.app.ctx, (work) =>
      emitShieldAlert(
        t.app.ctx,
        work,
        v.company.id,
        { id: 'aut_test', filter: { min_level: 'low' }, sensitivity: 'balanced', destinations: [] },
        buildAlertPayload(
          t.app.ctx,
          'aut_test',
          'VOLT',
          {
            recordId: 'fb-zelda-1',
            source: 'ZendeskSupport',
            sourceUrl: 'https://support.example.test/tickets/zelda',
            content: `I am furious about the ${PHRASE}, I will call my lawyer`,
            sourceCreatedAt: null,
            escalationLevel: 'high',
            emotionalIntensityLevel: 'high',
            sentimentShift: null,
          },
          t.clock.now(),
        ),
      ),
    );
    // Someone else's complaint, which must come through untouched.
    const alice = await inject('POST', `${C}/complaints`, bearer(v.consumerToken), {
      company_code: 'VOLT',
      complaint_category: 'Consumer Durables',
      title: 'Alice keeps her words',
      description: 'My kettle whistles in C minor',
    });

    // Every delivery fails once, with the receiver's echo of the body in its response excerpt.
    const sent = await w.worker.drain();
    expect(sent).toBeGreaterThan(5);
    for (const needle of [EMAIL, NAME, PHRASE]) expect(await findCopies(t.store, needle)).not.toEqual([]);
    expect(await findCopies(t.store, PHRASE)).toContain('attempts.response_excerpt');

    // Only the operator token opens the route: a company's admin key is no operator.
    const route = { method: 'POST' as const, url: '/api/operator/v1/erasures', payload: { email: EMAIL } };
    expect((await t.app.http.inject({ ...route, headers: admin })).statusCode).toBe(401);
    expect((await t.app.http.inject(route)).statusCode).toBe(401);
    const erased = await t.app.http.inject({ ...route, headers: bearer(OPERATOR_TOKEN) });
    expect(erased.statusCode, erased.body).toBe(200);
    const result = erased.json().data;
    expect(result).toMatchObject({
      found: true,
      consumer_removed: true,
      tokens_removed: 1,
      complaints_redacted: 1,
      evidence_removed: 1,
      feedback_records_redacted: 2,
    });
    expect(result.events_redacted).toBeGreaterThan(0);
    expect(result.attempt_excerpts_cleared).toBeGreaterThan(0);

    for (const needle of [EMAIL, NAME, PHRASE]) expect(await findCopies(t.store, needle), needle).toEqual([]);
    // The delegate's address was the consumer's to give, not the company's record.
    expect(await findCopies(t.store, 'helper@example.test')).toEqual([]);
    if (t.store.profile.name === 'sqlite') {
      // Erasure zeroes the space its own writes free (secure_delete), but pages split earlier keep stale bytes in their
      // unused space: VACUUM (`consumer erase --vacuum`) rebuilds the file without them. It writes the rebuilt file
      // through the WAL, so checkpoint after it, then read the file and what is left of the WAL.
      await sql`vacuum`.execute(t.store.db);
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(t.store.db);
      const file = t.store.sqliteFile!;
      const bytes = [file, `${file}-wal`]
        .map((f) => (existsSync(f) ? readFileSync(f).toString('latin1') : ''))
        .join('')
        .toLowerCase();
      for (const needle of [EMAIL, NAME, PHRASE]) expect(bytes.includes(needle.toLowerCase()), needle).toBe(false);
    }

    // The complaint stays the company's record, without the person.
    const detail = await inject('GET', `${P}/complaints/${id}`, admin);
    expect(detail).toMatchObject({
      escalatr_id: id,
      title: '[erased]',
      description: '[erased]',
      consumer: null,
      amount_involved: 4200,
      status: filed.status,
    });
    expect(detail.resolution.notes).toBe('Refunded [erased] ([erased]) in full.');
    expect((await t.app.http.inject({ method: 'GET', url: `${C}/complaints`, headers: zelda })).statusCode).toBe(401);
    const aliceDetail = await inject('GET', `${P}/complaints/${alice.escalatr_id}`, admin);
    expect(aliceDetail.description).toBe('My kettle whistles in C minor');

    // Pending deliveries resume with the redacted bodies.
    (rx as Receiver & { heal(): void }).heal();
    const before = rx.requests.length;
    t.clock.advance(60_000);
    expect(await w.worker.drain()).toBe(sent);
    const resent = rx.requests.slice(before).map((r) => r.body.toString());
    expect(resent).toHaveLength(sent);
    for (const body of resent) {
      for (const needle of [EMAIL, NAME, PHRASE]) expect(body.toLowerCase()).not.toContain(needle.toLowerCase());
    }
    expect(resent.some((b) => b.includes('[erased]'))).toBe(true);

    // Idempotent, and an unknown address is a clear answer rather than an error.
    const again = await t.app.http.inject({ ...route, headers: bearer(OPERATOR_TOKEN) });
    expect(again.json().data).toMatchObject({ found: false, consumer_removed: false, events_redacted: 0 });
    const unknown = await t.app.http.inject({
      ...route,
      payload: { email: 'nobody@example.test' },
      headers: bearer(OPERATOR_TOKEN),
    });
    expect(unknown.statusCode).toBe(200);
    expect(unknown.json().data.found).toBe(false);

    // The audit log says who erased what and when, and holds nothing of the person.
    const audit = await t.store.db.selectFrom('audit_log').selectAll().orderBy('at').execute();
    expect(audit).toHaveLength(3);
    expect(audit.map((a) => a.action)).toEqual(['consumer.erase', 'consumer.erase', 'consumer.erase']);
    expect(audit[0].actor).toMatch(/^api:operator-token@/);
    expect(audit[0].subject).toMatch(/^con_/);
    expect(JSON.parse(audit[0].details)).toMatchObject({ found: true, complaints_redacted: 1 });
    expect(JSON.stringify(audit)).not.toContain('nobody@example.test');
  });

  it('clears the excerpts of attempts left to their span after the window', async () => {
    const v = await seedTenant(t);
    await setRetentionByCode(t.app.ctx, 'VOLT', { days: 7 });
    // Noon, so the day's span outlives the window by half a day; the run makes the spans before rows are written.
    const start = Math.floor(t.clock.now() / DAY_MS) * DAY_MS + DAY_MS / 2;
    t.clock.set(start);
    await t.app.retention.run();
    const echo = await startReceiver({ behaviour: (r) => ({ status: 200, body: `got ${r.body.toString()}` }) });
    try {
      await addEndpoint(t, v.company.id, echo.url);
      const { token } = await createConsumerWithToken(t.app.ctx, { email: EMAIL, name: NAME });
      const filed = await t.app.http.inject({
        method: 'POST',
        url: `${C}/complaints`,
        headers: bearer(token),
        payload: {
          company_code: 'VOLT',
          complaint_category: 'Consumer Durables',
          title: `${NAME}: toaster on fire`,
          description: `The ${PHRASE} happened on Tuesday; write to ${EMAIL}.`,
        },
      });
      expect(filed.statusCode, filed.body).toBe(201);
      const said = await t.app.http.inject({
        method: 'POST',
        url: `${C}/complaints/${filed.json().data.escalatr_id}/messages`,
        headers: bearer(token),
        payload: { body: `Please hurry, the ${PHRASE} scared my cat` },
      });
      expect(said.statusCode, said.body).toBe(201);
      // Alice hands her complaint to Zelda: the event names Zelda's address, and the receiver echoes it.
      const alice = await t.app.http.inject({
        method: 'POST',
        url: `${C}/complaints`,
        headers: bearer(v.consumerToken),
        payload: {
          company_code: 'VOLT',
          complaint_category: 'Consumer Durables',
          title: 'Kettle',
          description: 'Loud',
        },
      });
      const delegated = await t.app.http.inject({
        method: 'POST',
        url: `${C}/complaints/${alice.json().data.escalatr_id}/delegate`,
        headers: bearer(v.consumerToken),
        payload: { to_email: EMAIL, immediate_transfer: false },
      });
      expect(delegated.statusCode, delegated.body).toBeLessThan(300);
      expect(await w.worker.drain()).toBeGreaterThan(0);
      expect(await findCopies(t.store, EMAIL)).toContain('attempts.response_excerpt');

      // A window and a minute on: the complaint's events stay (its timeline), their delivery history goes: row by
      // row on SQLite; on PostgreSQL the delivered rows and their attempts wait for their span, still a span from
      // being dropped.
      t.clock.set(start + 7 * DAY_MS + 60_000);
      const report = await t.app.retention.run();
      const deliveries = await t.store.db.selectFrom('deliveries').select('status').execute();
      const left = await t.store.db.selectFrom('attempts').select('response_excerpt').execute();
      if (t.store.profile.partitionedHistory) {
        expect(deliveries.length).toBeGreaterThan(0);
        expect(deliveries.every((d) => d.status === 'success')).toBe(true);
        expect(left.some((a) => a.response_excerpt?.includes(EMAIL))).toBe(true);
      } else {
        expect(report.pruned.deliveries).toBeGreaterThan(0);
        expect(deliveries).toEqual([]);
        expect(left).toEqual([]);
      }

      const erased = await t.app.http.inject({
        method: 'POST',
        url: '/api/operator/v1/erasures',
        headers: bearer(OPERATOR_TOKEN),
        payload: { email: EMAIL },
      });
      expect(erased.statusCode, erased.body).toBe(200);
      if (t.store.profile.partitionedHistory) expect(erased.json().data.attempt_excerpts_cleared).toBeGreaterThan(0);
      for (const needle of [EMAIL, NAME, PHRASE]) expect(await findCopies(t.store, needle), needle).toEqual([]);
      if (t.store.profile.name === 'sqlite') {
        await sql`vacuum`.execute(t.store.db);
        await sql`pragma wal_checkpoint(TRUNCATE)`.execute(t.store.db);
        const file = t.store.sqliteFile!;
        const bytes = [file, `${file}-wal`]
          .map((f) => (existsSync(f) ? readFileSync(f).toString('latin1') : ''))
          .join('')
          .toLowerCase();
        for (const needle of [EMAIL, NAME, PHRASE]) expect(bytes.includes(needle.toLowerCase()), needle).toBe(false);
      }
    } finally {
      await echo.close();
    }
  });

  it('refuses a bad address with 400 and changes nothing; answers 404 when no operator token is configured', async () => {
    const r = await t.app.http.inject({
      method: 'POST',
      url: '/api/operator/v1/erasures',
      headers: bearer(OPERATOR_TOKEN),
      payload: { email: 'not an address' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('validation_failed');
    expect(await t.store.db.selectFrom('audit_log').selectAll().execute()).toEqual([]);

    const plain = await createTestApp();
    try {
      const off = await plain.app.http.inject({
        method: 'POST',
        url: '/api/operator/v1/erasures',
        headers: bearer(OPERATOR_TOKEN),
        payload: { email: EMAIL },
      });
      expect(off.statusCode).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('finds every event naming the address in steps, and says where the scan ended', async () => {
    const v = await seedTenant(t);
    const rows = Array.from({ length: 23 }, (_, i) => ({
      id: `evt_${String(i).padStart(4, '0')}`,
      company_id: v.company.id,
      seq: i + 1,
      name: 'complaint.delegated',
      complaint_id: null,
      // Case differs, and one near miss: an underscore is no wildcard.
      body: JSON.stringify({ data: { to_email: i % 5 === 0 ? EMAIL.toUpperCase() : 'zelda.qxerase+x@example.test' } }),
      delivery_status: 'none' as const,
      created_at: t.clock.now(),
    }));
    await t.store.db.insertInto('events').values(rows).execute();
    for (const step of [1, 4, 23, 100]) {
      const scan = await scanForAddress(t.store.db, EVENT_BODIES, EMAIL, step);
      expect(scan.ids.sort(), `step ${step}`).toEqual(['evt_0000', 'evt_0005', 'evt_0010', 'evt_0015', 'evt_0020']);
      expect(scan.through).toBe('evt_0022');
    }
  });
});
