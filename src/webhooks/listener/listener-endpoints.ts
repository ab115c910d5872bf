import type { DomainContext } from '../../domain/context.js';
import { notFound } from '../../errors.js';
import { createEndpoint, deleteEndpoint, type EndpointRow, type EndpointView } from '../endpoints.js';

/**
 * The development endpoints of `escalatr listen`: ordinary endpoints of the company (same events, signing secret,
 * deliveries and attempts, shown in the dashboard as development endpoints) whose deliveries the listener's connection
 * sends instead of the workers. Each is removed when its listener stops; one left behind by a listener that was
 * killed expires after LISTENER_IDLE_EXPIRY_MS without a connection.
 */

export const LISTENER_IDLE_EXPIRY_MS = 60 * 60 * 1000;

/** Registers a development endpoint that forwards to `forwardTo` on the developer's machine. */
export async function createListenerEndpoint(
  ctx: DomainContext,
  companyId: string,
  input: { forwardTo: string; events: string[] },
): Promise<EndpointView & { secret: string }> {
  return createEndpoint(
    ctx,
    companyId,
    { url: input.forwardTo, events: input.events, description: 'escalatr listen (development)' },
    undefined,
    'listener',
  );
}

/** The company's development endpoint to resume; anything else (another company's, an ordinary one) is a 404. */
export async function findListenerEndpoint(ctx: DomainContext, companyId: string, id: string): Promise<EndpointRow> {
  const row = await ctx.store.db
    .selectFrom('endpoints')
    .selectAll()
    .where('id', '=', id)
    .where('company_id', '=', companyId)
    .where('listener_seen_at', 'is not', null)
    .executeTakeFirst();
  if (!row) throw notFound('development endpoint');
  return row;
}

/** A listener holds the endpoint now: it does not expire while one is connected. */
export async function touchListenerEndpoint(ctx: DomainContext, id: string, now: number): Promise<void> {
  await ctx.store.db
    .updateTable('endpoints')
    .set({ listener_seen_at: now })
    .where('id', '=', id)
    .where('listener_seen_at', 'is not', null)
    .execute();
}

/**
 * Removes development endpoints no listener has held for LISTENER_IDLE_EXPIRY_MS (their listener was killed before
 * it could remove them). Their deliveries still due end as dead, like any deleted endpoint's. Returns how many.
 */
export async function expireListenerEndpoints(ctx: DomainContext, now: number): Promise<number> {
  const idle = await ctx.store.db
    .selectFrom('endpoints')
    .select(['id', 'company_id'])
    .where('listener_seen_at', '<', now - LISTENER_IDLE_EXPIRY_MS)
    .execute();
  let removed = 0;
  for (const row of idle) {
    try {
      await deleteEndpoint(ctx, row.company_id, row.id);
      removed++;
    } catch {
      // Removed meanwhile by its listener or by hand.
    }
  }
  return removed;
}
