import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/harness.js';
import { createCliEnv, dropFileDatabase, type CliEnv } from './cli-harness.js';

describe('escalatr demo', () => {
  afterAll(dropFileDatabase);
  let cli: CliEnv;
  beforeEach(async () => {
    cli = await createCliEnv();
  });
  afterEach(async () => cli.cleanup());

  it('prints the credentials as JSON, and they work against the API', async () => {
    const r = await cli.run(['demo', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const demo = JSON.parse(r.stdout);
    expect(Object.keys(demo).sort()).toEqual(['api_key', 'company', 'consumer', 'owner']);
    expect(demo.company).toEqual({ code: 'VOLT', name: expect.any(String), plan: 'professional' });
    expect(Object.keys(demo.owner).sort()).toEqual(['email', 'password']);
    expect(demo.owner.password).toMatch(/^\S{10,}$/);
    expect(Object.keys(demo.consumer).sort()).toEqual(['email', 'token']);
    expect(demo.consumer.token).toMatch(/^csk_/);
    expect(demo.api_key).toMatch(/^esc_/);

    const { app } = await cli.openApp();
    const filed = await app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(demo.consumer.token),
      payload: {
        company_code: 'VOLT',
        complaint_category: 'Consumer Durables',
        title: 'Kettle leaks',
        description: 'Leaks from the base',
      },
    });
    expect(filed.statusCode).toBe(201);
    const id = filed.json().data.escalatr_id;
    expect(id).toMatch(/^ESC-VOLT-\d{6}-00005$/);

    // The sample complaints are there in several states, and the owner password logs in.
    const list = await app.http.inject({
      method: 'GET',
      url: '/api/v1/complaints?limit=100',
      headers: bearer(demo.api_key),
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().total).toBe(5);
    const statuses = new Set(list.json().data.map((c: { status: string }) => c.status));
    expect(statuses).toEqual(new Set(['Open', 'Escalated', 'Resolved', 'Withdrawn']));
    const login = await app.http.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { email: demo.owner.email, password: demo.owner.password },
    });
    expect(login.statusCode).toBe(200);

    const events = await app.http.inject({
      method: 'GET',
      url: `/api/v1/events?escalatr_id=${id}`,
      headers: bearer(demo.api_key),
    });
    expect(events.json().data.map((e: { event: string }) => e.event)).toEqual(['complaint.created']);
  });

  it('run again, says the demo exists, creates nothing new but a token and a key, and exits 0', async () => {
    const first = JSON.parse((await cli.run(['demo', '--json'])).stdout);
    const again = await cli.run(['demo', '--json']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/exists already/);
    const demo = JSON.parse(again.stdout);
    expect(demo.company).toEqual(first.company);
    expect(demo.owner).toEqual({ email: first.owner.email, password: null });
    expect(demo.consumer.email).toBe(first.consumer.email);
    expect(demo.consumer.token).not.toBe(first.consumer.token);
    expect(demo.api_key).toMatch(/^esc_/);

    const { app } = await cli.openApp();
    const list = await app.http.inject({ method: 'GET', url: '/api/v1/complaints', headers: bearer(demo.api_key) });
    expect(list.json().total).toBe(4);
    const mine = await app.http.inject({
      method: 'GET',
      url: '/api/consumer/v1/complaints',
      headers: bearer(demo.consumer.token),
    });
    expect(mine.statusCode).toBe(200);
  });
});
