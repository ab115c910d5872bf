import type { DomainContext } from '../domain/context.js';
import { AppError, notFound } from '../errors.js';
import { TransformError, transformBody, validateTransform, type EndpointTransform } from './transform.js';

export interface TransformPreview {
  event_id: string | null;
  event: string;
  input: unknown;
  output: unknown;
  body: string | null;
  bytes: number;
}

/** What a body looks like when the company has no event yet: a Test press's event, with sample complaint fields. */
const SAMPLE_EVENT = {
  id: 'evt_sample',
  event: 'webhook.test',
  timestamp: '2026-01-01T00:00:00.000Z',
  data: {
    escalatr_id: 'ESC-SAMPLE-260101-00000',
    status: 'Open',
    escalation_level: 'L1',
    complaint_category: 'Sample',
    priority: 'medium',
    sample: true,
    message: 'This is a test event from Escalatr.',
  },
};

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
  const stored = row?.body ?? JSON.stringify(SAMPLE_EVENT);
  let body: string | null;
  try {
    body = await transformBody(checked, stored);
  } catch (err) {
    if (!(err instanceof TransformError)) throw err;
    throw new AppError('transform_failed', `The transformation failed on this event: ${err.message}`, {
      event_id: row?.id ?? null,
    });
  }
  return {
    event_id: row?.id ?? null,
    event: row?.name ?? SAMPLE_EVENT.event,
    input: JSON.parse(stored),
    output: body === null ? null : JSON.parse(body),
    body,
    bytes: body === null ? 0 : Buffer.byteLength(body),
  };
}
