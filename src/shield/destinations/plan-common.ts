import type { DomainContext } from '../../domain/context.js';
import type { DeliveryRow, StoredEvent } from '../../queue/delivery.js';
import type { SkipPlan } from '../../webhooks/targets.js';
import type { ShieldAlertPayload } from '../alerts.js';
import {
  loadDestinationRow,
  openDestination,
  type DestinationConfig,
  type DestinationRow,
  type DestinationType,
} from './config.js';

/** What every Shield alert request names itself as; receivers written for Shield alerts match this value exactly. */
export const SHIELD_USER_AGENT = 'SupportEscalationAutomation/1.0';

/**
 * The alert payload as sent: the `data` of the stored event body, serialised once more. JSON.parse/stringify of the
 * same stored text always yields the same bytes, so every attempt carries an identical body.
 */
export function alertBody(event: StoredEvent): string {
  return JSON.stringify(alertPayload(event));
}

export function alertPayload(event: StoredEvent): ShieldAlertPayload {
  return (JSON.parse(event.body) as { data: ShieldAlertPayload }).data;
}

/**
 * An idempotency key as a header value. Record ids may hold characters a header cannot carry (non-ASCII, edge
 * spaces); those are percent-encoded, deterministically, so retries still share one key.
 */
export function headerSafe(value: string): string {
  if (/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value)) return value;
  return Array.from(value)
    .map((ch, i, all) => {
      const edge = i === 0 || i === all.length - 1;
      const plain = /^[\x21-\x7e]$/.test(ch) || (!edge && ch === ' ');
      return plain ? ch : encodeURIComponent(ch);
    })
    .join('');
}

export type LoadedDestination<T extends DestinationType> = {
  row: DestinationRow;
  config: Extract<DestinationConfig, { type: T }>['config'];
};

/**
 * The destination a delivery goes to, opened; or a skip plan when it was removed (its automation was edited or
 * deleted) or can no longer be opened (the master key changed) — retrying could not help either.
 */
export async function destinationFor<T extends DestinationType>(
  ctx: DomainContext,
  delivery: DeliveryRow,
  type: T,
): Promise<LoadedDestination<T> | SkipPlan> {
  const row = await loadDestinationRow(ctx, delivery.company_id, delivery.destination_id);
  if (!row || row.type !== type) return { kind: 'skip', reason: 'the destination was removed' };
  let opened: DestinationConfig;
  try {
    opened = openDestination(ctx, row);
  } catch {
    return { kind: 'skip', reason: 'the destination settings cannot be decrypted with the current master key' };
  }
  return { row, config: opened.config } as LoadedDestination<T>;
}

/** http:// targets are refused at send time too, if the operator has since turned plain http off. */
export function plainHttpRefused(ctx: DomainContext, url: string): SkipPlan | null {
  if (url.startsWith('https:') || ctx.config.allowHttpWebhooks) return null;
  return { kind: 'skip', reason: 'plain http destinations are not allowed' };
}
