import { iso } from '../../clock.js';
import { transact, type DomainContext } from '../../domain/context.js';
import { notFound } from '../../errors.js';
import type { Db, Tx } from '../../storage/db.js';
import { openSigningSecrets, rotateSigningSecret } from '../../webhooks/secret-rotation.js';
import { newWebhookSecret } from '../../webhooks/signature.js';
import type { DestinationRow } from './config.js';

/**
 * A Shield webhook destination's signing secret, revealed and rotated like an endpoint's. Alerts keep the headers
 * Shield receivers expect and carry both signatures besides, so a receiver may verify them or ignore them.
 */

/** Webhook and broker destinations sign their alerts; Slack and email do not. */
const SIGNED_TYPES: readonly DestinationRow['type'][] = ['webhook', 'broker'];

/** A new destination's sealed secret, for the types that sign. */
export function newDestinationSecret(ctx: Pick<DomainContext, 'box'>, type: DestinationRow['type']): string | null {
  return SIGNED_TYPES.includes(type) ? ctx.box.seal(newWebhookSecret()) : null;
}

/**
 * The destination's sealed secret, made now if it has none yet (saved before destinations signed). Two processes
 * may race to make it; only the first write counts and both read back the one kept.
 */
async function ensureSecret(ctx: DomainContext, db: Db | Tx, row: DestinationRow): Promise<DestinationRow> {
  if (row.secret_enc !== null) return row;
  await db
    .updateTable('destinations')
    .set({ secret_enc: ctx.box.seal(newWebhookSecret()) })
    .where('id', '=', row.id)
    .where('secret_enc', 'is', null)
    .execute();
  return db.selectFrom('destinations').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
}

/** The secrets that sign an alert to this destination at `now`: current first, then one in its grace period. */
export async function destinationSigningSecrets(
  ctx: DomainContext,
  row: DestinationRow,
  now: number,
): Promise<string[]> {
  const withSecret = await ensureSecret(ctx, ctx.store.db, row);
  return openSigningSecrets(ctx.box, { ...withSecret, secret_enc: withSecret.secret_enc! }, now);
}

/** A signing (webhook or broker) destination of one of the company's automations; anything else answers as missing. */
async function findWebhookDestination(
  db: Db | Tx,
  companyId: string,
  automationId: string,
  destinationId: string,
): Promise<DestinationRow> {
  const row = await db
    .selectFrom('destinations')
    .selectAll()
    .where('id', '=', destinationId)
    .where('automation_id', '=', automationId)
    .where('company_id', '=', companyId)
    .where('type', 'in', SIGNED_TYPES)
    .executeTakeFirst();
  if (!row) throw notFound('webhook or broker destination');
  return row;
}

export async function revealDestinationSecret(
  ctx: DomainContext,
  companyId: string,
  automationId: string,
  destinationId: string,
): Promise<{ secret: string }> {
  const row = await findWebhookDestination(ctx.store.db, companyId, automationId, destinationId);
  const withSecret = await ensureSecret(ctx, ctx.store.db, row);
  return { secret: ctx.box.open(withSecret.secret_enc!) };
}

export async function regenerateDestinationSecret(
  ctx: DomainContext,
  companyId: string,
  automationId: string,
  destinationId: string,
  gracePeriodS = 0,
): Promise<{ secret: string; previous_secret_expires_at: string | null }> {
  return transact(ctx, async ({ tx, now }) => {
    const row = await findWebhookDestination(tx, companyId, automationId, destinationId);
    const rotated = rotateSigningSecret(ctx.box, row.secret_enc, gracePeriodS, now);
    await tx.updateTable('destinations').set(rotated.sealed).where('id', '=', row.id).execute();
    return {
      secret: rotated.secret,
      previous_secret_expires_at: rotated.previousExpiresAt === null ? null : iso(rotated.previousExpiresAt),
    };
  });
}
