import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlaScheduler } from '../../src/domain/sla-scheduler.js';
import type { TestApp } from '../helpers/harness.js';
import {
  eventsOf,
  expectEnvelope,
  fileComplaint,
  okData,
  type Tenant,
  companyScene,
  type ConsumerApi,
  type StaffApi,
} from './complaint-fixtures.js';

const HOUR = 3600_000;
const at = (isoUtc: string) => Date.parse(isoUtc);
const nineToFive = [{ start: '09:00', end: '17:00' }];
const weekdays = {
  monday: nineToFive,
  tuesday: nineToFive,
  wednesday: nineToFive,
  thursday: nineToFive,
  friday: nineToFive,
};

/**
 * SLA windows on a company calendar, driven by a manual clock through the API and the scheduler: due times across a
 * weekend, a holiday and both DST changes in two zones; the warning and breach events, once each per level window;
 * the pause while the company waits on the consumer.
 */
describe('SLA calendars', () => {
  let t: TestApp, tenant: Tenant, consumer: ConsumerApi, staff: StaffApi;

  beforeEach(async () => {
    ({ t, tenant, consumer, staff } = await companyScene());
  });
  afterEach(async () => t.close());

  const detail = async (id: string) => okData(await staff.get(`/complaints/${id}`));
  const slaEvents = async (id: string) =>
    (await eventsOf(t.store.db, id)).filter(
      (e) => e.name.startsWith('complaint.sla_') || e.name === 'complaint.escalated',
    );
  const setCalendar = async (body: Record<string, unknown>) => okData(await staff.put('/settings/calendar', body));

  it('a window runs in business hours: over a weekend and a holiday, overdue exactly at its due time', async () => {
    await setCalendar({ time_zone: 'Europe/Berlin', business_hours: weekdays, holidays: ['2026-04-20'] });
    okData(await staff.put('/settings/sla', { windows: { L1: 4 * 3600 } }));
    // Friday 17 April 2026, 15:00 in Berlin (CEST, UTC+2): 2 h on Friday, Monday is a holiday, 2 h on Tuesday.
    t.clock.set(at('2026-04-17T13:00:00Z'));
    const id = await fileComplaint(t, tenant.consumerToken);
    const due = at('2026-04-21T09:00:00Z');
    expect(await detail(id)).toMatchObject({ sla_due_at: new Date(due).toISOString(), sla_paused: false });

    t.clock.set(due - 1);
    expect((await detail(id)).is_overdue).toBe(false);
    expect(okData(await staff.get('/complaints'))[0].is_overdue).toBe(false);
    t.clock.set(due);
    expect((await detail(id)).is_overdue).toBe(true);
    expect(okData(await staff.get('/complaints'))[0].is_overdue).toBe(true);
    expect(okData(await consumer.get(`/complaints/${id}`)).is_overdue).toBe(true);
  });

  it('warns at three quarters of the business time and breaches at the due time, once each, then escalates', async () => {
    await setCalendar({ time_zone: 'Europe/Berlin', business_hours: weekdays, holidays: ['2026-04-20'] });
    okData(await staff.put('/settings/sla', { windows: { L1: 4 * 3600 } }));
    t.clock.set(at('2026-04-17T13:00:00Z'));
    const id = await fileComplaint(t, tenant.consumerToken);
    const due = '2026-04-21T09:00:00.000Z';

    // Three of four business hours have passed at Tuesday 10:00 CEST (08:00Z): nothing happens a moment before.
    t.clock.set(at('2026-04-21T08:00:00Z') - 1);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect(await slaEvents(id)).toEqual([]);
    t.clock.set(at('2026-04-21T08:00:00Z'));
    expect(await t.app.scheduler.tick()).toBe(0);
    let events = await slaEvents(id);
    expect(events.map((e) => e.name)).toEqual(['complaint.sla_warning']);
    expectEnvelope(events[0]);
    expect(events[0].body.data).toEqual({
      escalatr_id: id,
      status: 'Open',
      escalation_level: 'L1',
      complaint_category: 'Consumer Durables',
      priority: 'high',
      level: 'L1',
      due_at: due,
      fraction: 0.75,
    });

    // Ticking again, or a scheduler of a restarted process, announces nothing twice.
    expect(await t.app.scheduler.tick()).toBe(0);
    expect(await new SlaScheduler(t.app.ctx).tick()).toBe(0);
    expect(await slaEvents(id)).toHaveLength(1);

    t.clock.set(at(due));
    expect(await t.app.scheduler.tick()).toBe(1);
    events = await slaEvents(id);
    expect(events.map((e) => e.name)).toEqual([
      'complaint.sla_warning',
      'complaint.sla_breached',
      'complaint.escalated',
    ]);
    expect(events[1].body.data).toEqual({
      escalatr_id: id,
      status: 'Open',
      escalation_level: 'L1',
      complaint_category: 'Consumer Durables',
      priority: 'high',
      level: 'L1',
      due_at: due,
      fraction: 1,
    });
    expect(events[2].body.data).toMatchObject({ to_level: 'L2', trigger: 'auto_sla' });
    // The breach and its escalation are one transaction: consecutive in the company's sequence.
    const seqs = await t.store.db
      .selectFrom('events')
      .select(['name', 'seq'])
      .where('complaint_id', '=', id)
      .orderBy('seq')
      .execute();
    const breach = seqs.findIndex((r) => r.name === 'complaint.sla_breached');
    expect(Number(seqs[breach + 1].seq)).toBe(Number(seqs[breach].seq) + 1);

    expect(await new SlaScheduler(t.app.ctx).tick()).toBe(0);
    expect(await slaEvents(id)).toHaveLength(3);
  });

  for (const [zone, from, due] of [
    // Friday 16:00 local plus 2 business hours: 1 h on Friday, 1 h from Monday 09:00, after the clocks changed.
    ['Europe/Berlin', '2026-03-27T15:00:00Z', '2026-03-30T08:00:00.000Z'],
    ['Europe/Berlin', '2026-10-23T14:00:00Z', '2026-10-26T09:00:00.000Z'],
    ['America/New_York', '2026-03-06T21:00:00Z', '2026-03-09T14:00:00.000Z'],
    ['America/New_York', '2026-10-30T20:00:00Z', '2026-11-02T15:00:00.000Z'],
  ] as const) {
    it(`${zone}: a window over the DST change of ${from.slice(0, 10)} is due at ${due}`, async () => {
      await setCalendar({ time_zone: zone, business_hours: weekdays, holidays: [] });
      okData(await staff.put('/settings/sla', { windows: { L1: 2 * 3600 } }));
      t.clock.set(at(from));
      const id = await fileComplaint(t, tenant.consumerToken);
      expect((await detail(id)).sla_due_at).toBe(due);
      t.clock.set(at(due) - 1);
      expect(await t.app.scheduler.tick()).toBe(0);
      expect((await slaEvents(id)).map((e) => e.name)).toEqual(['complaint.sla_warning']);
      t.clock.set(at(due));
      expect(await t.app.scheduler.tick()).toBe(1);
      expect((await detail(id)).escalation_level).toBe('L2');
    });
  }

  it('warns at every configured fraction; a scheduler that was away announces what it missed, in order', async () => {
    await setCalendar({ time_zone: 'UTC', business_hours: weekdays, holidays: [], warning_fractions: [0.9, 0.5] });
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(1000 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    const events = await slaEvents(id);
    expect(events.map((e) => [e.name, e.body.data.fraction ?? null])).toEqual([
      ['complaint.sla_warning', 0.5],
      ['complaint.sla_warning', 0.9],
      ['complaint.sla_breached', 1],
      ['complaint.escalated', null],
    ]);
  });

  it('the default 24×7 calendar warns at 75% of elapsed time', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(54 * HOUR - 1);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect(await slaEvents(id)).toEqual([]);
    t.clock.advance(1);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect((await slaEvents(id))[0].body.data).toMatchObject({ level: 'L1', fraction: 0.75 });
  });

  it('at L9 the breach is announced once, nothing escalates, and the complaint stays overdue', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    for (let i = 0; i < 8; i++) okData(await consumer.post(`/complaints/${id}/escalate`));
    t.clock.advance(1000 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect(await t.app.scheduler.tick()).toBe(0);
    const names = (await slaEvents(id)).map((e) => e.name).filter((n) => n.startsWith('complaint.sla_'));
    expect(names).toEqual(['complaint.sla_warning', 'complaint.sla_breached']);
    expect(await detail(id)).toMatchObject({ escalation_level: 'L9', is_overdue: true });
  });

  it('a staff answer stops the window: no warning, no breach afterwards', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    okData(await staff.post(`/complaints/${id}/claim`));
    t.clock.advance(1000 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect(await slaEvents(id)).toEqual([]);
  });

  for (const waitOn of ['a follow-up question', 'a settlement offer'] as const) {
    it(`pauses a window started while ${waitOn} awaits the consumer, and resumes it when they answer`, async () => {
      await setCalendar({
        time_zone: 'UTC',
        business_hours: { monday: [{ start: '00:00', end: '24:00' }], tuesday: [{ start: '00:00', end: '24:00' }] },
        holidays: [],
        pause_when_awaiting_consumer: true,
      });
      okData(await staff.put('/settings/sla', { windows: { L2: 3600 } }));
      t.clock.set(at('2026-04-20T08:00:00Z')); // a Monday
      const id = await fileComplaint(t, tenant.consumerToken);
      const answer =
        waitOn === 'a follow-up question'
          ? async () => {
              const q = okData(await staff.post(`/complaints/${id}/followups`, { question: 'Serial?' }), 201);
              return () => consumer.post(`/complaints/${id}/followups/${q.followup_id}/answer`, { answer: 'X1' });
            }
          : async () => {
              const o = okData(
                await staff.post(`/complaints/${id}/settlements`, { amount: 5, currency: 'EUR', terms: 'Voucher' }),
                201,
              );
              return () => consumer.post(`/complaints/${id}/settlements/${o.offer_id}/respond`, { action: 'reject' });
            };
      const respond = await answer();
      okData(await consumer.post(`/complaints/${id}/escalate`));
      expect(await detail(id)).toMatchObject({ escalation_level: 'L2', sla_due_at: null, sla_paused: true });

      t.clock.advance(1000 * HOUR);
      expect(await t.app.scheduler.tick()).toBe(0);
      expect(await detail(id)).toMatchObject({ escalation_level: 'L2', is_overdue: false });

      // Answered on a Saturday: the hour left runs from the next opening, Monday 00:00.
      t.clock.set(at('2026-06-06T10:00:00Z'));
      okData(await respond());
      expect(await detail(id)).toMatchObject({ sla_paused: false, sla_due_at: '2026-06-08T01:00:00.000Z' });
      t.clock.set(at('2026-06-08T01:00:00Z'));
      expect(await t.app.scheduler.tick()).toBe(1);
      expect((await detail(id)).escalation_level).toBe('L3');
    });
  }

  it('without the pause (the default) a window started while a question is open runs', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    okData(await staff.post(`/complaints/${id}/followups`, { question: 'Serial?' }), 201);
    okData(await consumer.post(`/complaints/${id}/escalate`));
    expect(await detail(id)).toMatchObject({
      sla_paused: false,
      sla_due_at: new Date(t.clock.now() + 48 * HOUR).toISOString(),
    });
  });

  it('warnings and breaches are in the feed and delivered to endpoints that subscribe to them', async () => {
    const hook = okData(
      await staff.post('/webhooks', {
        url: 'http://127.0.0.1:9/hooks',
        events: ['complaint.sla_warning', 'complaint.sla_breached'],
      }),
      201,
    );
    const other = okData(
      await staff.post('/webhooks', { url: 'http://127.0.0.1:9/other', events: ['complaint.created'] }),
      201,
    );
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(72 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    const feed = okData(await staff.get('/events?event=complaint.sla_breached'));
    expect(feed).toHaveLength(1);
    expect(feed[0]).toMatchObject({ event: 'complaint.sla_breached', data: { escalatr_id: id, fraction: 1 } });
    const deliveries = await t.store.db
      .selectFrom('deliveries')
      .innerJoin('events', 'events.id', 'deliveries.event_id')
      .select(['events.name', 'deliveries.endpoint_id'])
      .where('events.complaint_id', '=', id)
      .execute();
    expect(
      deliveries
        .filter((d) => d.endpoint_id === hook.id)
        .map((d) => d.name)
        .sort(),
    ).toEqual(['complaint.sla_breached', 'complaint.sla_warning']);
    expect(deliveries.filter((d) => d.endpoint_id === other.id).map((d) => d.name)).toEqual(['complaint.created']);
  });
});
