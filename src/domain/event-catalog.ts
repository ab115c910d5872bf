/**
 * Every event name the platform emits, with what makes it fire: the published catalogue, the escalation lifecycle
 * events, the Test button's event, Escalation Shield's alert, and Escalatr's additions (assignment, the SLA warning
 * and breach, the breach rule's flag, and the operational events about the company's own webhooks). The API validates subscriptions and
 * filters against this list and the dashboard builds its event pickers from it, so the two can never disagree.
 * It imports nothing, so the dashboard bundle can include it as it is.
 */
export const EVENT_NAMES = [
  'complaint.created',
  'complaint.escalated',
  'complaint.claimed',
  'complaint.assigned',
  'complaint.released',
  'complaint.completed',
  'complaint.resolved',
  'complaint.withdrawn',
  'complaint.delegated',
  'complaint.sla_warning',
  'complaint.sla_breached',
  'complaint.flagged',
  'settlement.responded',
  'message.new',
  'evidence.uploaded',
  'followup.replied',
  'action.drafted',
  'action.filed',
  'social.posted',
  'webhook.test',
  'shield.alert',
  'endpoint.failing',
  'endpoint.disabled',
  'endpoint.recovered',
  'delivery.dead',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/**
 * Events about the company's webhook delivery itself rather than its complaints. An endpoint receives them only when
 * it names them (a `*` subscription does not include them), never about itself, and a dead delivery of one of them
 * makes no further `delivery.dead`.
 */
export const OPERATIONAL_EVENTS = [
  'endpoint.failing',
  'endpoint.disabled',
  'endpoint.recovered',
  'delivery.dead',
] as const satisfies readonly EventName[];
export type OperationalEventName = (typeof OPERATIONAL_EVENTS)[number];

export const isOperationalEvent = (name: string): name is OperationalEventName =>
  (OPERATIONAL_EVENTS as readonly string[]).includes(name);

/** When each event fires, in the words the dashboard shows beside its checkbox. */
export const EVENT_DESCRIPTIONS: Readonly<Record<EventName, string>> = {
  'complaint.created': 'A new complaint was filed',
  'complaint.escalated': 'A complaint moved up a level, by the consumer or automatically',
  'complaint.claimed': 'A staff member claimed the complaint',
  'complaint.assigned': 'An admin assigned or reassigned the complaint to a staff member',
  'complaint.released': 'Ownership of the complaint was released',
  'complaint.completed': 'Staff completed the complaint with resolution notes',
  'complaint.resolved': 'The consumer marked the complaint resolved',
  'complaint.withdrawn': 'The consumer withdrew the complaint',
  'complaint.delegated': 'The consumer delegated the complaint to someone else',
  'complaint.sla_warning': 'A response window reached a warning fraction of its business time (default 75%)',
  'complaint.sla_breached': 'A response window passed with no staff response (below L9 the complaint then escalates)',
  'complaint.flagged': "The company's breach rule flagged the complaint after a breached response window",
  'settlement.responded': 'The consumer accepted, rejected or countered an offer',
  'message.new': 'A chat message was posted on the complaint',
  'evidence.uploaded': 'The consumer uploaded evidence',
  'followup.replied': 'The consumer answered a follow-up question',
  'action.drafted': 'The consumer drafted a resolution action',
  'action.filed': 'The consumer marked an action as filed',
  'social.posted': 'The consumer marked a social post as published',
  'webhook.test': 'Someone pressed Test on a webhook (the Test button always reaches its own endpoint)',
  'shield.alert': 'Escalation Shield scored feedback over an automation’s threshold',
  'endpoint.failing':
    'A webhook endpoint has failed for 24 hours without a success, and again a day before it is disabled automatically',
  'endpoint.disabled': 'A webhook endpoint was disabled automatically (410 Gone, or 5 days of failures)',
  'endpoint.recovered': 'A webhook endpoint that was reported failing or disabled succeeded again',
  'delivery.dead': 'A delivery used up its retries without success',
};
