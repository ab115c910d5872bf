/**
 * The API's shapes as the dashboard reads them: generated from the server's schemas (./api-types.ts), named here
 * the way the dashboard's components use them.
 */
import type { Automation, Endpoint } from './api-types';

export type {
  ApiKey,
  Automation,
  ComplaintDetail,
  ComplaintEvent,
  ComplaintSummary,
  CreatedEndpoint,
  Delivery,
  DeliveryDetail,
  Endpoint,
  Feedback,
  Followup,
  Message,
  SettlementOffer,
} from './api-types';

export type AuthType = Endpoint['auth']['type'];
/** A destination as the API shows it. */
export type Destination = Automation['destinations'][number];
