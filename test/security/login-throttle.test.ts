import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword, type PasswordVerifier } from '../../src/security/passwords.js';
import {
  ACCOUNT_ADDRESS_FREE_FAILURES,
  ADDRESS_FREE_FAILURES,
  delayAfter,
  FIRST_DELAY_MS,
  MAX_DELAY_MS,
} from '../../src/security/login-throttle.js';
import { createTestApp, OWNER_PASSWORD, seedTenant, type TestApp } from '../helpers/harness.js';

const OWNER = 'owner@volt.test';
const STRANGER_ADDRESS = '203.0.113.9';
const OWNER_ADDRESS = '198.51.100.7';

/**
 * Sign-in throttling: per account and address plus per address, growing waits, never a lock a stranger can impose,
 * and one answer (with the same work behind it) for unknown, wrong and throttled.
 */
describe('sign-in throttling', () => {
  let t: TestApp;
  let derivations: number;
  const counting: PasswordVerifier = async (password, stored) => {
    derivations++;
    return verifyPassword(password, stored);
  };

  beforeEach(async () => {
    derivations = 0;
    t = await createTestApp({ verifyPassword: counting });
    await seedTenant(t);
  });
  afterEach(async () => t.close());

  const login = (email: string, password: string, address: string) =>
    t.app.http.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { email, password },
      remoteAddress: address,
    });

  /** Everything a caller can see of an answer except the time it was sent. */
  const visible = (res: Awaited<ReturnType<typeof login>>) => {
    const headers = { ...res.headers };
    delete headers.date;
    return { status: res.statusCode, headers, body: res.body };
  };

  it("a stranger's failures from one address do not stop the owner signing in from another", async () => {
    for (let i = 0; i < 12; i++) {
      // Each guess comes after the previous wait is over, so every one is checked and counted.
      t.clock.advance(10 * 60 * 1000);
      const res = await login(OWNER, `guess ${i}`, STRANGER_ADDRESS);
      expect(res.statusCode).toBe(401);
    }
    // The stranger is slowed down: even the right password from that address is refused for now…
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(401);
    // …but the owner, elsewhere, is not.
    const owner = await login(OWNER, OWNER_PASSWORD, OWNER_ADDRESS);
    expect(owner.statusCode).toBe(200);
    expect(owner.json().data.user.email).toBe(OWNER);
  });

  it('answers unknown, wrong-password and throttled sign-ins identically', async () => {
    const unknown = await login('nobody@volt.test', 'wrong password', OWNER_ADDRESS);
    const wrong = await login(OWNER, 'wrong password', '192.0.2.1');
    for (let i = 0; i <= ACCOUNT_ADDRESS_FREE_FAILURES; i++) await login(OWNER, 'wrong password', STRANGER_ADDRESS);
    // One failure past the free ones: now waiting. The right password is not even looked at, and the answer is the wrong-password one.
    const throttled = await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS);
    expect(visible(unknown)).toEqual(visible(wrong));
    expect(visible(throttled)).toEqual(visible(wrong));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({
      success: false,
      error: { code: 'unauthorized', message: 'Email or password is incorrect' },
    });
    expect(throttled.headers['set-cookie']).toBeUndefined();
    expect(
      Number(
        (
          await t.store.db
            .selectFrom('sessions')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
    ).toBe(0);
  });

  it('runs the key derivation once on every path: unknown, malformed, wrong, throttled and right', async () => {
    const paths: Array<[string, string, string]> = [
      ['nobody@volt.test', 'wrong password', OWNER_ADDRESS],
      ['not an email', 'wrong password', OWNER_ADDRESS],
      [OWNER, 'wrong password', OWNER_ADDRESS],
    ];
    for (const [email, password, address] of paths) {
      const before = derivations;
      await login(email, password, address);
      expect(derivations - before).toBe(1);
    }
    for (let i = 0; i <= ACCOUNT_ADDRESS_FREE_FAILURES; i++) await login(OWNER, 'wrong', STRANGER_ADDRESS);
    let before = derivations;
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(401);
    expect(derivations - before).toBe(1);
    before = derivations;
    expect((await login(OWNER, OWNER_PASSWORD, OWNER_ADDRESS)).statusCode).toBe(200);
    expect(derivations - before).toBe(1);
  });

  it('makes an account-and-address wait grow with each further failure, and end on time', async () => {
    for (let i = 0; i < ACCOUNT_ADDRESS_FREE_FAILURES; i++)
      expect((await login(OWNER, 'wrong', STRANGER_ADDRESS)).statusCode).toBe(401);
    // The free failures cost no wait: the right password still works…
    // (checked on a fresh address so this address's count is untouched)
    expect((await login(OWNER, OWNER_PASSWORD, OWNER_ADDRESS)).statusCode).toBe(200);
    // …the next failure from the stranger's address starts a 1 s wait, the one after it 2 s.
    await login(OWNER, 'wrong', STRANGER_ADDRESS);
    t.clock.advance(FIRST_DELAY_MS - 1);
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(401);
    t.clock.advance(1);
    await login(OWNER, 'wrong', STRANGER_ADDRESS);
    t.clock.advance(2 * FIRST_DELAY_MS - 1);
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(401);
    t.clock.advance(1);
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(200);
  });

  it('limits one address across accounts: many emails from one address slow that address only', async () => {
    for (let i = 0; i < ADDRESS_FREE_FAILURES; i++)
      expect((await login(`user${i}@elsewhere.test`, 'wrong', STRANGER_ADDRESS)).statusCode).toBe(401);
    await login('one-more@elsewhere.test', 'wrong', STRANGER_ADDRESS);
    // The owner's account never failed from this address, yet the address waits now.
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(401);
    expect((await login(OWNER, OWNER_PASSWORD, OWNER_ADDRESS)).statusCode).toBe(200);
    t.clock.advance(FIRST_DELAY_MS);
    expect((await login(OWNER, OWNER_PASSWORD, STRANGER_ADDRESS)).statusCode).toBe(200);
  });

  it('doubles the wait from 1 s and caps it at 15 minutes', () => {
    expect(delayAfter(3, 3)).toBe(0);
    expect([4, 5, 6, 7].map((n) => delayAfter(n, 3))).toEqual([1000, 2000, 4000, 8000]);
    expect(delayAfter(1000, 3)).toBe(MAX_DELAY_MS);
  });
});
