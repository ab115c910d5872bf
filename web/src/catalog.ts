/** Choices the dashboard offers; the API checks them again. */

export const STATUSES = ['Open', 'Escalated', 'Resolved', 'Withdrawn'];
export const STAGES = ['Intake', 'Escalation', 'Closure'];
export const LEVELS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9'];

/** Events an endpoint can subscribe to, with the seed's "fires when" wording. */
export const WEBHOOK_EVENTS: Array<{ name: string; description: string }> = [
  { name: 'complaint.created', description: 'A new complaint was filed' },
  { name: 'complaint.escalated', description: 'A complaint moved up a level, by the consumer or automatically' },
  { name: 'complaint.claimed', description: 'A staff member claimed the complaint' },
  { name: 'complaint.released', description: 'Ownership of the complaint was released' },
  { name: 'complaint.completed', description: 'Staff completed the complaint with resolution notes' },
  { name: 'complaint.resolved', description: 'The consumer marked the complaint resolved' },
  { name: 'complaint.withdrawn', description: 'The consumer withdrew the complaint' },
  { name: 'complaint.delegated', description: 'The consumer delegated the complaint to someone else' },
  { name: 'settlement.responded', description: 'The consumer accepted, rejected or countered an offer' },
  { name: 'message.new', description: 'A chat message was posted on the complaint' },
  { name: 'evidence.uploaded', description: 'The consumer uploaded evidence' },
  { name: 'followup.replied', description: 'The consumer answered a follow-up question' },
  { name: 'action.drafted', description: 'The consumer drafted a resolution action' },
  { name: 'action.filed', description: 'The consumer marked an action as filed' },
  { name: 'social.posted', description: 'The consumer marked a social post as published' },
];

export const DELIVERY_STATUSES = ['pending', 'success', 'failed', 'dead'];

export const AUTH_METHODS = [
  { value: 'none', label: 'None' },
  { value: 'bearer', label: 'Bearer Token' },
  { value: 'api_key', label: 'API Key (X-API-Key)' },
  { value: 'custom_header', label: 'Custom Header' },
];

export const SHIELD_LEVELS = ['low', 'medium', 'high', 'extreme'];

export const HTTPS_RULE = 'URL must start with https://';
