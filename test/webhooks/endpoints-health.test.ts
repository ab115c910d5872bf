import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { transact } from '../../src/domain/context.js';
import {
  applyAttemptToEndpointHealth,
  disableEndpoint,
  endpointHealthAfterAttempt,
  FAILING_DISABLE_AFTER_MS,
} from '../../src/webhooks/endpoints.js';
import { createEndpoint, planFor, setupWebhooks } from './endpoints-helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 3, 17, 9);

describe('endpointHealthAfterAttempt (the auto-disable rule)', () => {
  it('a success clears the failing streak', () => {
    expect(endpointHealthAfterAttempt({ failing_since: T0 }, { ok: true }, T0 + DAY)).toEqual({ failing_since: null });
    expect(endpointHealthAfterAttempt({ failing_since: null }, { ok: true }, T0)).toEqual({ failing_since: null });
  });

  it('a first failure starts the streak now; later failures keep its start', () => {
    expect(endpointHealthAfterAttempt({ failing_since: null }, { ok: false }, T0)).toEqual({ failing_since: T0 });
    expect(endpointHealthAfterAttempt({ failing_since: T0 }, { ok: false }, T0 + 2 * DAY)).toEqual({
      failing_since: T0,
    });
  });

  it('410 Gone disables at once, even on the first failure', () => {
    expect(endpointHealthAfterAttempt({ failing_since: null }, { ok: false, gone: true }, T0)).toEqual({
      failing_since: T0,
      disable: 'gone',
    });
  });

  it('failing for 5 days disables; one millisecond less does not', () => {
    expect(endpointHealthAfterAttempt({ failing_since: T0 }, { ok: false }, T0 + 5 * DAY - 1)).toEqual({
      failing_since: T0,
    });
    expect(endpointHealthAfterAttempt({ failing_since: T0 }, { ok: false }, T0 + 5 * DAY)).toEqual({
      failing_since: T0,
      disable: 'failing_5_days',
    });
  });

  it('holds for any sequence of outcomes: disabled iff gone or the all-failing streak reached 5 days', () => {
    const step = fc.record({ gapMs: fc.integer({ min: 0, max: 3 * DAY }), ok: fc.boolean(), gone: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        let state = { failing_since: null as number | null };
        let now = T0;
        let lastSuccess: number | null = null;
        let firstFailureAfterSuccess: number | null = null;
        for (const s of steps) {
          now += s.gapMs;
          const outcome = { ok: s.ok, gone: !s.ok && s.gone };
          const next = endpointHealthAfterAttempt(state, outcome, now);
          if (s.ok) {
            lastSuccess = now;
            firstFailureAfterSuccess = null;
            expect(next).toEqual({ failing_since: null });
          } else {
            firstFailureAfterSuccess ??= now;
            expect(next.failing_since).toBe(firstFailureAfterSuccess);
            const expected = outcome.gone
              ? 'gone'
              : now - firstFailureAfterSuccess >= FAILING_DISABLE_AFTER_MS
                ? 'failing_5_days'
                : undefined;
            expect(next.disable).toBe(expected);
          }
          state = { failing_since: next.failing_since };
        }
        void lastSuccess;
      }),
    );
  });
});

describe('auto-disable helpers on the store', () => {
  let s: Awaited<ReturnType<typeof setupWebhooks>>;
  beforeEach(async () => {
    s = await setupWebhooks();
  });
  afterEach(async () => s.t.close());

  const row = (id: string) =>
    s.t.store.db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it("applies the rule in the worker's transaction and shows the reason in the API", async () => {
    const ep = await createEndpoint(s.api);
    const ctx = s.t.app.ctx;
    const apply = (outcome: { ok: boolean; gone?: boolean }, now: number) =>
      transact(ctx, ({ tx }) => applyAttemptToEndpointHealth(ctx, tx, ep.id, outcome, now));
    const start = s.t.clock.now();

    expect(await apply({ ok: false }, start)).toBeNull();
    expect((await row(ep.id)).failing_since).toBe(start);
    expect(await apply({ ok: true }, start + DAY)).toBeNull();
    expect((await row(ep.id)).failing_since).toBeNull();

    expect(await apply({ ok: false }, start + 2 * DAY)).toBeNull();
    expect(await apply({ ok: false }, start + 6 * DAY)).toBeNull();
    expect(await apply({ ok: false }, start + 7 * DAY)).toBe('failing_5_days');
    const view = (await s.api.get(`/webhooks/${ep.id}`)).body.data;
    expect(view).toMatchObject({
      enabled: false,
      disabled_reason: 'failing_5_days',
      disabled_at: new Date(start + 7 * DAY).toISOString(),
      failing_since: new Date(start + 2 * DAY).toISOString(),
    });
    // Already off: nothing more to disable.
    expect(await apply({ ok: false, gone: true }, start + 8 * DAY)).toBeNull();

    // Re-enabling starts over.
    await s.api.patch(`/webhooks/${ep.id}`, { enabled: true });
    expect(await row(ep.id)).toMatchObject({ enabled: 1, disabled_reason: null, failing_since: null });
    expect(await apply({ ok: false, gone: true }, start + 9 * DAY)).toBe('gone');
    expect(await row(ep.id)).toMatchObject({ enabled: 0, disabled_reason: 'gone' });
  });

  it('disableEndpoint turns it off once, and its deliveries are then skipped', async () => {
    const ep = await createEndpoint(s.api);
    const id = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    const ctx = s.t.app.ctx;
    const now = s.t.clock.now();
    expect(await transact(ctx, ({ tx }) => disableEndpoint(ctx, tx, ep.id, 'gone', now))).toBe(true);
    expect(await transact(ctx, ({ tx }) => disableEndpoint(ctx, tx, ep.id, 'gone', now))).toBe(false);
    expect(await planFor(s.t, id)).toEqual({ kind: 'skip', reason: 'endpoint disabled (gone)' });
  });
});
