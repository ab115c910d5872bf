import type { DomainContext } from '../domain/context.js';
import { iso } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import { DEFAULT_TEST_MESSAGE, sampleComplaintFields } from './endpoints.js';
import { TransformError, transformBody, validateTransform, type EndpointTransform } from './transform.js';

export interface TransformPreview {
  event_id: string | null;
  event: string;
  input: unknown;
  output: unknown;
  body: string | null;
  bytes: number;
}

/**
 * A dry run of a transformation before it is saved: on one of the company's events (by id, else its most recent),
 * what the endpoint would receive. Nothing is sent or stored. A transformation that fails on the event answers
 * 422 transform_failed with the expression's own message.
 */
export async function previewTransform(
  ctx: DomainContext,
  companyId: string,
  transform: EndpointTransform,
  eventId?: string,
): Promise<TransformPreview> {
  // Checked as if saved, but without a subscription to hold a preset to: any event may be tried.
  const checked = validateTransform(transform, 'preset' in transform ? [] : ['*']);
  let query = ctx.store.db
    .selectFrom('events')
    .select(['id', 'name', 'body'])
    .where('company_id', '=', companyId)
    .orderBy('seq', 'desc')
    .limit(1);
  if (eventId !== undefined) query = query.where('id', '=', eventId);
  const row = await query.executeTakeFirst();
  if (!row && eventId !== undefined) throw notFound('event');
  // A company with no event yet tries it on what its Test button would send.
  const stored = row?.body ?? (await sampleTestBody(ctx, companyId));
  let body: string | null;
  try {
    body = await transformBody(companyId, checked, stored);
  } catch (err) {
    if (!(err instanceof TransformError)) throw err;
    throw new AppError('transform_failed', `The transformation failed on this event: ${err.message}`, {
      event_id: row?.id ?? null,
    });
  }
  return {
    event_id: row?.id ?? null,
    event: row?.name ?? 'webhook.test',
    input: JSON.parse(stored),
    output: body === null ? null : JSON.parse(body),
    body,
    bytes: body === null ? 0 : Buffer.byteLength(body),
  };
}

async function sampleTestBody(ctx: DomainContext, companyId: string): Promise<string> {
  const { code } = await ctx.store.db
    .selectFrom('companies')
    .select('code')
    .where('id', '=', companyId)
    .executeTakeFirstOrThrow();
  const now = ctx.clock.now();
  const data = { ...sampleComplaintFields(code, now), message: DEFAULT_TEST_MESSAGE };
  return JSON.stringify({ id: 'evt_sample', event: 'webhook.test', timestamp: iso(now), data });
}
