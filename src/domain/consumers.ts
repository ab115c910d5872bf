import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { hashToken, newToken } from '../security/tokens.js';
import type { Db } from '../storage/db.js';
import type { DomainContext } from './context.js';
import { normaliseEmail } from './users.js';

export interface Consumer {
  id: string;
  email: string;
  name: string | null;
  created_at: number;
}

const CONSUMER_TOKEN_PREFIX = 'csk_';

/** Creates a consumer (or finds the one with that email) and issues a new consumer token, returned in full once. */
export async function createConsumerWithToken(
  ctx: DomainContext,
  input: { email: string; name?: string | null },
): Promise<{ consumer: Consumer; token: string }> {
  const email = normaliseEmail(input.email);
  if (!email) throw new AppError('validation_failed', 'email is not a valid address');
  const now = ctx.clock.now();
  return ctx.store.db.transaction().execute(async (tx) => {
    let consumer = await tx.selectFrom('consumers').selectAll().where('email', '=', email).executeTakeFirst();
    if (!consumer) {
      consumer = { id: newId('con'), email, name: input.name?.trim() || null, created_at: now };
      await tx.insertInto('consumers').values(consumer).execute();
    }
    const { token, hash, displayPrefix } = newToken(CONSUMER_TOKEN_PREFIX);
    await tx
      .insertInto('consumer_tokens')
      .values({
        id: newId('ctk'),
        consumer_id: consumer.id,
        token_hash: hash,
        prefix: displayPrefix,
        created_at: now,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    return { consumer, token };
  });
}

export async function authenticateConsumer(db: Db, token: string): Promise<Consumer | null> {
  if (!token.startsWith(CONSUMER_TOKEN_PREFIX) || token.length > 200) return null;
  const row = await db
    .selectFrom('consumer_tokens')
    .innerJoin('consumers', 'consumers.id', 'consumer_tokens.consumer_id')
    .select(['consumers.id', 'consumers.email', 'consumers.name', 'consumers.created_at', 'consumer_tokens.revoked_at'])
    .where('consumer_tokens.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.revoked_at !== null) return null;
  return { id: row.id, email: row.email, name: row.name, created_at: row.created_at };
}

/** Finds or creates the consumer with this email, inside the caller's transaction (delegation with transfer). */
export async function findOrCreateConsumer(db: Db, email: string, now: number): Promise<Consumer> {
  const existing = await db.selectFrom('consumers').selectAll().where('email', '=', email).executeTakeFirst();
  if (existing) return existing;
  const consumer = { id: newId('con'), email, name: null, created_at: now };
  await db.insertInto('consumers').values(consumer).execute();
  return consumer;
}
