import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { hashToken, newToken } from '../security/tokens.js';
import type { Db } from '../storage/db.js';
import { findOrCreateConsumer, type Consumer } from './consumers.js';
import type { DomainContext } from './context.js';
import { normaliseEmail } from './users.js';

/** A link is good for one use within this time: long enough to open the mail, short enough to be worth little. */
export const SIGN_IN_LINK_TTL_MS = 15 * 60 * 1000;
/** A portal session lasts this long; after it the consumer asks for a new link. */
export const CONSUMER_SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Links sent to one address, and asked for from one client address, within the window below. */
export const LINKS_PER_EMAIL = 5;
export const LINKS_PER_ADDRESS = 20;
export const LINK_LIMIT_WINDOW_MS = 60 * 60 * 1000;

const LINK_TOKEN_PREFIX = 'csl_';

const countSince = async (db: Db, column: 'email' | 'client_address', value: string, since: number) =>
  Number(
    (
      await db
        .selectFrom('consumer_sign_in_links')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where(column, '=', value)
        .where('created_at', '>', since)
        .executeTakeFirstOrThrow()
    ).n,
  );

/**
 * Issues a one-time sign-in link token for an email address, whether or not a consumer has it yet (the consumer is
 * found or created when the link is followed): the answer is the same either way, so nothing tells a caller which
 * addresses have accounts. Limited per address sent to and per requesting client address, counted in the store so
 * every server process sees the same counts. Returns the token, to be sent to that address and nowhere else.
 */
export async function issueSignInLink(
  ctx: DomainContext,
  input: { email: string; clientAddress: string },
): Promise<{ email: string; token: string; expiresAt: number }> {
  const email = normaliseEmail(input.email);
  if (!email) throw new AppError('validation_failed', 'email is not a valid address', { field: 'email' });
  const db = ctx.store.db;
  const now = ctx.clock.now();
  const since = now - LINK_LIMIT_WINDOW_MS;
  const retryAfter = Math.ceil(LINK_LIMIT_WINDOW_MS / 1000);
  if ((await countSince(db, 'client_address', input.clientAddress, since)) >= LINKS_PER_ADDRESS)
    throw new AppError('rate_limited', 'Too many sign-in links were asked for from this address; try again later', {
      retry_after: retryAfter,
    });
  if ((await countSince(db, 'email', email, since)) >= LINKS_PER_EMAIL)
    throw new AppError('rate_limited', 'Too many sign-in links were sent to this email; try again later', {
      retry_after: retryAfter,
    });
  const { token, hash } = newToken(LINK_TOKEN_PREFIX);
  const expiresAt = now + SIGN_IN_LINK_TTL_MS;
  await db.transaction().execute(async (tx) => {
    // Rows older than the limit window count for nothing: swept here, so the table stays small.
    await tx.deleteFrom('consumer_sign_in_links').where('created_at', '<=', since).execute();
    await tx
      .insertInto('consumer_sign_in_links')
      .values({
        id: newId('csl'),
        token_hash: hash,
        email,
        client_address: input.clientAddress,
        created_at: now,
        expires_at: expiresAt,
        used_at: null,
      })
      .execute();
  });
  return { email, token, expiresAt };
}

export interface ConsumerSession {
  consumer: Consumer;
  csrfToken: string;
  expiresAt: number;
}

/**
 * Follows a sign-in link: marks it used (one conditional update, so two concurrent uses cannot both succeed), finds
 * or creates the consumer with its email and opens a portal session. Unknown, used and expired links all answer
 * `sign_in_link_invalid`, with the reason for the page to explain.
 */
export async function redeemSignInLink(
  ctx: DomainContext,
  token: string,
): Promise<ConsumerSession & { sessionToken: string }> {
  const now = ctx.clock.now();
  const invalid = (reason: 'unknown' | 'used' | 'expired') =>
    new AppError(
      'sign_in_link_invalid',
      reason === 'used'
        ? 'This sign-in link was already used. Each link works once: ask for a new one.'
        : reason === 'expired'
          ? 'This sign-in link has expired. Ask for a new one.'
          : 'This sign-in link is not valid. Check that you opened the whole link, or ask for a new one.',
      { reason },
    );
  if (!token.startsWith(LINK_TOKEN_PREFIX) || token.length > 200) throw invalid('unknown');
  const hash = hashToken(token);
  return ctx.store.db.transaction().execute(async (tx) => {
    const link = await tx
      .selectFrom('consumer_sign_in_links')
      .select(['id', 'email', 'expires_at', 'used_at'])
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (!link) throw invalid('unknown');
    if (link.used_at !== null) throw invalid('used');
    if (link.expires_at <= now) throw invalid('expired');
    const marked = await tx
      .updateTable('consumer_sign_in_links')
      .set({ used_at: now })
      .where('id', '=', link.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) !== 1) throw invalid('used');
    const consumer = await findOrCreateConsumer(tx, link.email, now);
    const sessionToken = randomBytes(32).toString('base64url');
    const session = {
      id: hashToken(sessionToken),
      consumer_id: consumer.id,
      csrf_token: randomBytes(32).toString('base64url'),
      expires_at: now + CONSUMER_SESSION_TTL_MS,
      created_at: now,
    };
    // This consumer's expired sessions are swept here, so the table does not grow with every sign-in.
    await tx
      .deleteFrom('consumer_sessions')
      .where('consumer_id', '=', consumer.id)
      .where('expires_at', '<=', now)
      .execute();
    await tx.insertInto('consumer_sessions').values(session).execute();
    return { consumer, csrfToken: session.csrf_token, expiresAt: session.expires_at, sessionToken };
  });
}

/** The live portal session a cookie names, or null (unknown, expired or malformed). */
export async function findConsumerSession(db: Db, sessionToken: string, now: number): Promise<ConsumerSession | null> {
  if (!sessionToken || sessionToken.length > 200) return null;
  const row = await db
    .selectFrom('consumer_sessions')
    .innerJoin('consumers', 'consumers.id', 'consumer_sessions.consumer_id')
    .select([
      'consumers.id',
      'consumers.email',
      'consumers.name',
      'consumers.created_at',
      'consumer_sessions.csrf_token',
      'consumer_sessions.expires_at',
    ])
    .where('consumer_sessions.id', '=', hashToken(sessionToken))
    .executeTakeFirst();
  if (!row || row.expires_at <= now) return null;
  return {
    consumer: { id: row.id, email: row.email, name: row.name, created_at: row.created_at },
    csrfToken: row.csrf_token,
    expiresAt: row.expires_at,
  };
}

export async function endConsumerSession(db: Db, sessionToken: string): Promise<void> {
  await db.deleteFrom('consumer_sessions').where('id', '=', hashToken(sessionToken)).execute();
}
