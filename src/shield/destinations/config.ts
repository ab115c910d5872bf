import type { Selectable } from 'kysely';
import type { DomainContext } from '../../domain/context.js';
import type { DestinationsTable } from '../../storage/schema.js';
import type { EndpointAuth } from '../../webhooks/signature.js';

export type DestinationType = DestinationsTable['type'];
export const DESTINATION_TYPES: readonly DestinationType[] = ['webhook', 'slack', 'email', 'broker'];

/** What is sealed in `destinations.config_enc`: URLs and credentials are encrypted at rest. */
interface WebhookConfig {
  url: string;
  auth: EndpointAuth;
}
interface SlackConfig {
  /** A Slack incoming-webhook URL carries its own secret, so it is sealed and shown masked. */
  url: string;
}
interface EmailConfig {
  to: string[];
}
interface BrokerConfig {
  /** A broker URL (amqp(s)://, nats://, tls://, redis(s)://, mqtt(s)://) as endpoints take it, without its password. */
  url: string;
  password: string | null;
}

export type DestinationConfig =
  | { type: 'webhook'; config: WebhookConfig }
  | { type: 'slack'; config: SlackConfig }
  | { type: 'email'; config: EmailConfig }
  | { type: 'broker'; config: BrokerConfig };

export type DestinationRow = Selectable<DestinationsTable>;

export const WEBHOOK_TIMEOUT_DEFAULT_MS = 5_000;
export const SLACK_TIMEOUT_MS = 5_000;
// An SMTP exchange is several round trips (greeting, EHLO, STARTTLS, AUTH, DATA): give it more than one POST.
export const EMAIL_TIMEOUT_MS = 15_000;

/** Opens a destination row's sealed configuration. Throws if the master key cannot open it. */
export function openDestination(
  ctx: Pick<DomainContext, 'box'>,
  row: Pick<DestinationRow, 'type' | 'config_enc'>,
): DestinationConfig {
  const config = ctx.box.openJson<unknown>(row.config_enc);
  return { type: row.type, config } as DestinationConfig;
}

/** Loads the destination a delivery goes to, scoped to the delivery's company; undefined once it was removed. */
export async function loadDestinationRow(
  ctx: DomainContext,
  companyId: string,
  destinationId: string | null,
): Promise<DestinationRow | undefined> {
  if (!destinationId) return undefined;
  return ctx.store.db
    .selectFrom('destinations')
    .selectAll()
    .where('id', '=', destinationId)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
}
