import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, type TestApp } from '../helpers/harness.js';
import { session } from './platform-fixtures.js';
import { MAX_DAYS } from '../../src/domain/business-time.js';
import {
  call,
  expectError,
  fileComplaint,
  okData,
  snapshot,
  staffApi,
  type Tenant,
  twoCompanies,
  type StaffApi,
} from '../domain/complaint-fixtures.js';

const allDay = [{ start: '00:00', end: '24:00' }];
const nineToFive = [{ start: '09:00', end: '17:00' }];
const valid = {
  time_zone: 'Europe/Berlin',
  business_hours: {
    monday: nineToFive,
    friday: [
      { start: '13:00', end: '17:00' },
      { start: '08:00', end: '12:00' },
    ],
  },
  holidays: ['2026-12-25', '2026-12-24', '2026-12-25'],
};

/** GET/PUT /api/v1/settings/calendar: the business hours SLA windows count in. */
describe('Platform API: SLA calendar settings', () => {
  let t: TestApp, tenant: Tenant, acme: Tenant, admin: StaffApi;

  beforeAll(async () => {
    ({ t, tenant, acme, admin } = await twoCompanies());
  });
  afterAll(async () => t.close());

  it('shows the 24×7 default, no pause and a warning at 75% until the company sets its own', async () => {
    expect(okData(await staffApi(t, tenant.readKey).get('/settings/calendar'))).toEqual({
      time_zone: 'UTC',
      business_hours: {
        monday: allDay,
        tuesday: allDay,
        wednesday: allDay,
        thursday: allDay,
        friday: allDay,
        saturday: allDay,
        sunday: allDay,
      },
      holidays: [],
      pause_when_awaiting_consumer: false,
      warning_fractions: [0.75],
      always_open: true,
    });
  });

  it('replaces the calendar: days left out are closed, intervals sorted, holidays sorted once; other companies untouched', async () => {
    const data = okData(await admin.put('/settings/calendar', { ...valid, pause_when_awaiting_consumer: true }));
    expect(data).toEqual({
      time_zone: 'Europe/Berlin',
      business_hours: {
        monday: nineToFive,
        tuesday: [],
        wednesday: [],
        thursday: [],
        friday: [
          { start: '08:00', end: '12:00' },
          { start: '13:00', end: '17:00' },
        ],
        saturday: [],
        sunday: [],
      },
      holidays: ['2026-12-24', '2026-12-25'],
      pause_when_awaiting_consumer: true,
      warning_fractions: [0.75],
      always_open: false,
    });
    expect(okData(await admin.get('/settings/calendar'))).toEqual(data);
    expect(okData(await staffApi(t, acme.readKey).get('/settings/calendar')).always_open).toBe(true);

    const fractions = okData(await admin.put('/settings/calendar', { ...valid, warning_fractions: [0.9, 0.5] }));
    expect(fractions).toMatchObject({ warning_fractions: [0.5, 0.9], pause_when_awaiting_consumer: false });
  });

  it('a complaint filed after the change is due in business hours', async () => {
    okData(
      await admin.put('/settings/calendar', {
        time_zone: 'America/New_York',
        business_hours: { monday: nineToFive },
        holidays: [],
      }),
    );
    okData(await admin.put('/settings/sla', { windows: { L1: 3600 } }));
    t.clock.set(Date.parse('2026-04-17T13:00:00Z')); // a Friday
    const id = await fileComplaint(t, tenant.consumerToken);
    // Monday 20 April 09:00 EDT (13:00Z) + 1 h.
    expect(okData(await admin.get(`/complaints/${id}`)).sla_due_at).toBe('2026-04-20T14:00:00.000Z');
    okData(await admin.put('/settings/sla', { windows: {} }));
  });

  it('refuses bad calendars with 400 and a code, and writes nothing', async () => {
    const before = await snapshot(t.store.db);
    const cases: Array<[unknown, string]> = [
      [{ ...valid, time_zone: 'Mars/Olympus_Mons' }, 'invalid_time_zone'],
      [{ ...valid, time_zone: 'CEST+2' }, 'invalid_time_zone'],
      [{ ...valid, time_zone: '' }, 'validation_failed'],
      [
        {
          ...valid,
          business_hours: {
            monday: [
              { start: '09:00', end: '12:00' },
              { start: '11:00', end: '17:00' },
            ],
          },
        },
        'invalid_business_hours',
      ],
      [
        {
          ...valid,
          business_hours: {
            monday: [
              { start: '09:00', end: '17:00' },
              { start: '09:00', end: '10:00' },
            ],
          },
        },
        'invalid_business_hours',
      ],
      [{ ...valid, business_hours: { monday: [{ start: '17:00', end: '09:00' }] } }, 'invalid_business_hours'],
      [{ ...valid, business_hours: { monday: [{ start: '09:00', end: '09:00' }] } }, 'invalid_business_hours'],
      [{ ...valid, business_hours: { monday: [{ start: '25:00', end: '26:00' }] } }, 'invalid_business_hours'],
      [{ ...valid, business_hours: { monday: [{ start: '24:00', end: '24:00' }] } }, 'invalid_business_hours'],
      [{ ...valid, business_hours: { monday: [{ start: '09:60', end: '10:00' }] } }, 'invalid_business_hours'],
      [{ ...valid, business_hours: {} }, 'invalid_business_hours'],
      [{ ...valid, business_hours: { monday: [] } }, 'invalid_business_hours'],
      [{ ...valid, business_hours: { funday: nineToFive } }, 'validation_failed'],
      [{ ...valid, business_hours: { monday: [{ start: '9:00', end: '17:00' }] } }, 'validation_failed'],
      [{ ...valid, business_hours: { monday: [{ start: '09:00' }] } }, 'validation_failed'],
      [{ ...valid, business_hours: { monday: Array(13).fill(nineToFive[0]) } }, 'validation_failed'],
      [{ ...valid, holidays: ['2026-02-30'] }, 'invalid_holiday'],
      [{ ...valid, holidays: ['2026-13-01'] }, 'invalid_holiday'],
      [{ ...valid, holidays: ['25/12/2026'] }, 'validation_failed'],
      [{ ...valid, holidays: '2026-12-25' }, 'validation_failed'],
      [{ ...valid, warning_fractions: [0] }, 'validation_failed'],
      [{ ...valid, warning_fractions: [1] }, 'validation_failed'],
      [{ ...valid, warning_fractions: [0.5, 0.5] }, 'validation_failed'],
      [{ ...valid, warning_fractions: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] }, 'validation_failed'],
      [{ ...valid, pause_when_awaiting_consumer: 'yes' }, 'validation_failed'],
      [{ ...valid, extra: true }, 'validation_failed'],
      [{ business_hours: valid.business_hours, holidays: [] }, 'validation_failed'],
      [[], 'validation_failed'],
    ];
    for (const [body, code] of cases) {
      const r = await admin.put('/settings/calendar', body);
      expect({ body, status: r.status, code: r.body.error?.code }).toEqual({ body, status: 400, code });
    }
    const r = await admin.put('/settings/calendar', { ...valid, time_zone: 'Not/A_Zone' });
    expect(r.body.error.details).toEqual({ field: 'time_zone' });
    const nul = await admin.put('/settings/calendar', { ...valid, time_zone: 'Europe/Berlin\u0000' });
    expectError(nul, 400, 'invalid_text');
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it("refuses a calendar the company's windows do not fit in, and windows its calendar cannot hold", async () => {
    const before = await snapshot(t.store.db);
    const found = okData(await admin.get('/settings/calendar'));
    // Open one minute a week: the default L1 window (72 h) would end 83 years out.
    const minuteAWeek = {
      time_zone: 'UTC',
      business_hours: { monday: [{ start: '09:00', end: '09:01' }] },
      holidays: [],
    };
    const r = await admin.put('/settings/calendar', minuteAWeek);
    expectError(r, 400, 'invalid_business_hours');
    expect(r.body.error.details).toEqual({ field: 'business_hours' });
    expect(r.body.error.message).toContain('L1 window (72 h of business time)');
    // A shorter window set first makes the same calendar's L1 fit, but the default L2 (48 h) still does not.
    okData(await admin.put('/settings/sla', { windows: { L1: 60 } }));
    const l2 = await admin.put('/settings/calendar', minuteAWeek);
    expect(l2.body.error.message).toContain('L2 window (48 h of business time)');
    okData(await admin.put('/settings/sla', { windows: {} }));
    // Monday 09:00–17:00 only (8 h a week): the 90-day maximum window needs 270 weeks, more than two years.
    okData(
      await admin.put('/settings/calendar', { time_zone: 'UTC', business_hours: { monday: nineToFive }, holidays: [] }),
    );
    const tooLong = await admin.put('/settings/sla', { windows: { L3: 90 * 24 * 3600 } });
    expectError(tooLong, 400, 'validation_failed');
    expect(tooLong.body.error.details).toEqual({ field: 'windows.L3' });
    expect(tooLong.body.error.message).toContain('open 8 h a week');
    // 600 h fit (75 weeks).
    okData(await admin.put('/settings/sla', { windows: { L3: 600 * 3600 } }));
    okData(await admin.put('/settings/sla', { windows: {} }));
    // The calendar this test found, put back (the refused calls above wrote nothing).
    const { always_open: _, ...prior } = found;
    okData(await admin.put('/settings/calendar', prior));
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('a calendar stored before windows had to fit still files complaints: the window is due where the arithmetic stops', async () => {
    await t.store.db
      .updateTable('companies')
      .set({
        sla_calendar: JSON.stringify({
          time_zone: 'UTC',
          business_hours: {
            monday: [{ start: '09:00', end: '09:01' }],
            tuesday: [],
            wednesday: [],
            thursday: [],
            friday: [],
            saturday: [],
            sunday: [],
          },
          holidays: [],
          pause_when_awaiting_consumer: false,
          warning_fractions: [0.75],
        }),
      })
      .where('id', '=', tenant.company.id)
      .execute();
    try {
      t.clock.set(Date.parse('2026-04-17T13:00:00Z'));
      const id = await fileComplaint(t, tenant.consumerToken);
      const due = Date.parse(okData(await admin.get(`/complaints/${id}`)).sla_due_at);
      expect(due).toBe(Date.parse('2026-04-17T00:00:00Z') + MAX_DAYS * 24 * 3600_000);
      expect(await t.app.scheduler.tick()).toBe(0);
    } finally {
      await t.store.db
        .updateTable('companies')
        .set({ sla_calendar: null })
        .where('id', '=', tenant.company.id)
        .execute();
    }
  });

  it('needs an admin to change it, and a credential to read it', async () => {
    const agent = await session(t, tenant.company.id, 'agent');
    const before = await snapshot(t.store.db);
    expectError(await staffApi(t, tenant.readKey).put('/settings/calendar', valid), 403, 'insufficient_scope');
    expectError(
      await call(t, { method: 'PUT', url: '/api/v1/settings/calendar', headers: agent.withCsrf, payload: valid }),
      403,
      'forbidden',
    );
    expect(
      okData(await call(t, { method: 'GET', url: '/api/v1/settings/calendar', headers: agent.cookie })).time_zone,
    ).toBeDefined();
    expectError(await call(t, { method: 'GET', url: '/api/v1/settings/calendar' }), 401, 'unauthorized');
    expectError(
      await call(t, { method: 'GET', url: '/api/v1/settings/calendar', headers: bearer(tenant.consumerToken) }),
      401,
      'unauthorized',
    );
    expect(await snapshot(t.store.db)).toEqual(before);
  });
});
