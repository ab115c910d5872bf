/**
 * The API's shapes as the dashboard reads them: generated from the server's schemas (./api-types.ts), named here
 * the way the dashboard's components use them.
 */
import type { Automation, Endpoint, Feedback, RecordAlert } from './api-types';

export type {
  ApiKey,
  Automation,
  BreachRule,
  ComplaintDetail,
  ComplaintEvent,
  ComplaintSummary,
  CreatedEndpoint,
  Evidence,
  Delivery,
  DeliveryDetail,
  Endpoint,
  EndpointConcurrency,
  Feedback,
  Followup,
  Message,
  Note,
  OperationsSettings,
  OperationsSettingsInput,
  RecordAlert,
  RecoverDryRun,
  RecoverInput,
  RecoverJob,
  RetentionInput,
  RetentionSettings,
  SettlementOffer,
  SlaCalendar,
  SlaCalendarInput,
  SlaReport,
  TransformPreview,
} from './api-types';

export type AuthType = Endpoint['auth']['type'];
/** A destination as the API shows it. */
export type Destination = Automation['destinations'][number];
/** A stored feedback record with its scores, as the record page names it. */
export type FeedbackRecord = Feedback;
/** One cue that fired, grouped as the scorer weighs it, with what it means. */
export type FeedbackSignal = Feedback['signals'][number];
/** One delivery of a Shield alert: to a destination of the automation, or to a company endpoint. */
export type AlertDelivery = RecordAlert['deliveries'][number];
