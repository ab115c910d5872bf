import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialectName, type TestApp } from '../helpers/harness.js';
import type { Receiver } from '../helpers/receiver.js';
import type { DomainContext } from '../../src/domain/context.js';
import { ShieldProcessor } from '../../src/shield/processor.js';
import * as m0053 from '../../src/storage/migrations/0053_shield_alert_keys.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import {
  CALM,
  createAutomationOk,
  EXTREME,
  postFeedback,
  processorFor,
  record,
  startShieldScene,
  stopShieldScene,
  type ShieldTenant,
} from './shield-helpers.js';

const MEDIUM = 'I have contacted you three times and nobody answers. I want to speak to a manager.';

describe('which feedback raises alerts', () => {
  let t: TestApp, rx: Receiver, w: RunningWorker, tenant: ShieldTenant;
  beforeEach(async () => {
    ({ t, tenant, rx, w } = await startShieldScene());
  });
  afterEach(async () => stopShieldScene({ t, rx, w }));

  const alerts = () => t.store.db.selectFrom('events').select(['body']).where('name', '=', 'shield.alert').execute();
  const hook = (tag: string) => [{ type: 'webhook', url: `${rx.url}?a=${tag}` }];

  it('sends nothing for an inactive automation or a filter the record does not match', async () => {
    await createAutomationOk(t, tenant.adminKey, {
      name: 'off',
      active: false,
      filter: { min_level: 'none' },
      destinations: hook('off'),
    });
    await createAutomationOk(t, tenant.adminKey, {
      name: 'extreme only',
      filter: { min_level: 'extreme' },
      destinations: hook('extreme'),
    });
    await createAutomationOk(t, tenant.adminKey, {
      name: 'intercom',
      filter: { min_level: 'low', sources: ['Intercom'] },
      destinations: hook('intercom'),
    });
    await createAutomationOk(t, tenant.adminKey, {
      name: 'refund kw',
      filter: { min_level: 'low', keywords: ['refund'] },
      destinations: hook('refund'),
    });
    await createAutomationOk(t, tenant.adminKey, {
      name: 'manager kw',
      filter: { min_level: 'medium', sources: ['zendesksupport'], keywords: ['MANAGER'] },
      destinations: hook('manager'),
    });
    await postFeedback(t, tenant.adminKey, { records: [record('m-1', MEDIUM), record('calm', CALM)] });
    const pass = await processorFor(t).tick();
    expect(pass).toEqual({ scored: 2, alerts: 1 });
    const [only] = await alerts();
    expect(JSON.parse(only.body).data.record.id).toBe('m-1');
    await w.worker.drain();
    expect(rx.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('a'))).toEqual(['manager']);
  });

  it('alerts from an automation switched on later only for feedback scored after that', async () => {
    const a = await createAutomationOk(t, tenant.adminKey, { active: false, destinations: hook('late') });
    await postFeedback(t, tenant.adminKey, record('before', EXTREME));
    await processorFor(t).tick();
    await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${a.id}`,
      headers: { authorization: `Bearer ${tenant.adminKey}` },
      payload: { active: true },
    });
    await postFeedback(t, tenant.adminKey, record('after', EXTREME));
    await processorFor(t).tick();
    expect((await alerts()).map((e) => JSON.parse(e.body).data.record.id)).toEqual(['after']);
  });

  it('alerts once for a record id sent twice', async () => {
    await createAutomationOk(t, tenant.adminKey, { destinations: hook('dup') });
    await postFeedback(t, tenant.adminKey, record('same', EXTREME));
    await processorFor(t).tick();
    const again = await postFeedback(t, tenant.adminKey, {
      records: [record('same', EXTREME), record('same', EXTREME)],
    });
    expect(again.json().data).toMatchObject({ accepted: 0, duplicates: 2 });
    await processorFor(t).tick();
    expect(await alerts()).toHaveLength(1);
    await w.worker.drain();
    expect(rx.requests).toHaveLength(1);
  });

  it('skips an alert whose idempotency key already exists instead of failing the pass', async () => {
    const a = await createAutomationOk(t, tenant.adminKey, { destinations: hook('k') });
    await postFeedback(t, tenant.adminKey, { records: [record('taken', EXTREME), record('free', EXTREME)] });
    // As if another processor had already raised this exact alert.
    await t.store.db
      .insertInto('shield_alert_keys')
      .values({
        key: `${a.id}:${a.destinations[0].id}:taken`,
        company_id: tenant.company.id,
        created_at: t.clock.now(),
      })
      .execute();
    const pass = await processorFor(t).tick();
    expect(pass).toEqual({ scored: 2, alerts: 1 });
    expect((await alerts()).map((e) => JSON.parse(e.body).data.record.id)).toEqual(['free']);
    const scored = await t.store.db
      .selectFrom('feedback_records')
      .select(['record_id', 'escalation_level'])
      .orderBy('record_id')
      .execute();
    expect(scored).toEqual([
      { record_id: 'free', escalation_level: 'extreme' },
      { record_id: 'taken', escalation_level: 'extreme' },
    ]);
  });

  it('migration 0053 carries over the keys of alerts already sent, and deliveries no longer need unique keys', async () => {
    const { db } = t.store;
    // The layout before 0053: the keys lived only in the deliveries' unique index. (Since 0054 deliveries is
    // partitioned on PostgreSQL, by status, class and time, where a unique index must hold those; the rows below all
    // have one of each.)
    await sql`drop table shield_alert_keys`.execute(db);
    const keyColumns = sql.raw(
      dialectName === 'postgres' ? 'idempotency_key, status, keep_days, created_at' : 'idempotency_key',
    );
    await sql`create unique index deliveries_idempotency on deliveries (${keyColumns})`.execute(db);
    const delivery = (id: string, key: string, target: string, destination: string | null) => ({
      id,
      company_id: tenant.company.id,
      event_id: 'evt_before',
      endpoint_id: destination ? null : 'ep_before',
      destination_id: destination,
      target,
      status: 'success' as const,
      attempt_count: 1,
      sequence_start: 0,
      next_attempt_at: null,
      idempotency_key: key,
      created_at: t.clock.now(),
      updated_at: t.clock.now(),
    });
    await db
      .insertInto('deliveries')
      .values([
        delivery('dlv_alert', 'auto_1:dst_1:record-1', 'webhook', 'dst_1'),
        delivery('dlv_ops', 'ops_1', 'ops_email', tenant.company.id),
        delivery('dlv_endpoint', 'evt_before:ep_before', 'endpoint', null),
      ])
      .execute();
    await m0053.up(db);
    expect(await db.selectFrom('shield_alert_keys').selectAll().execute()).toEqual([
      { key: 'auto_1:dst_1:record-1', company_id: tenant.company.id, created_at: t.clock.now() },
    ]);
    await db
      .insertInto('deliveries')
      .values(delivery('dlv_again', 'evt_before:ep_before', 'endpoint', null))
      .execute();
  });

  it('scores and alerts each record once with two processors running at the same time', async () => {
    await createAutomationOk(t, tenant.adminKey, { filter: { min_level: 'none' }, destinations: hook('many') });
    const records = Array.from({ length: 250 }, (_, i) => record(`p-${i}`, i % 2 ? EXTREME : CALM));
    expect((await postFeedback(t, tenant.adminKey, { records })).json().data.accepted).toBe(250);
    // On PostgreSQL the second processor has its own connection pool, like another process; SQLite has one writer.
    const otherCtx: DomainContext =
      dialectName === 'postgres' ? { ...t.app.ctx, store: t.testStore.reopen() } : t.app.ctx;
    const one = new ShieldProcessor(t.app.ctx, { batchSize: 20 });
    const two = new ShieldProcessor(otherCtx, { batchSize: 20 });
    const [a, b] = await Promise.all([one.tick(), two.tick()]);
    expect(a.scored + b.scored).toBe(250);
    expect(a.alerts + b.alerts).toBe(250);
    if (dialectName === 'postgres') expect(a.scored > 0 && b.scored > 0).toBe(true);
    expect(await alerts()).toHaveLength(250);
    const keys = await t.store.db.selectFrom('deliveries').select('idempotency_key').execute();
    expect(new Set(keys.map((k) => k.idempotency_key)).size).toBe(250);
    const unscored = await t.store.db
      .selectFrom('feedback_records')
      .select('id')
      .where('scored_at', 'is', null)
      .execute();
    expect(unscored).toHaveLength(0);
  });

  it('wakes a started processor when feedback is stored', async () => {
    await createAutomationOk(t, tenant.adminKey, { destinations: hook('wake') });
    const processor = new ShieldProcessor(t.app.ctx, { intervalMs: 3_600_000 });
    processor.start();
    try {
      await postFeedback(t, tenant.adminKey, record('woken', EXTREME));
      // The ingest wake-up started a pass; tick() resolves after it (and any queued one) finishes.
      await processor.tick();
      const row = await t.store.db.selectFrom('feedback_records').select('scored_at').executeTakeFirstOrThrow();
      expect(row.scored_at).not.toBeNull();
      expect(await alerts()).toHaveLength(1);
    } finally {
      await processor.stop();
    }
  });
});
