import {
  EVENT_DESCRIPTIONS,
  EVENT_NAMES,
  OPERATIONAL_EVENTS,
  isOperationalEvent,
} from '../../src/domain/event-catalog';

/** Choices the dashboard offers; the API checks them again. */

export const STATUSES = ['Open', 'Escalated', 'Resolved', 'Withdrawn'];
export const STAGES = ['Intake', 'Escalation', 'Closure'];
export const ESCALATION_LEVELS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9'];

/**
 * Events an endpoint can subscribe to, with when each fires: the server's own catalogue (the list the API validates
 * subscriptions against), bundled into the dashboard, so every event the API accepts can be picked here.
 */
export const WEBHOOK_EVENTS: Array<{ name: string; description: string; operational: boolean }> = EVENT_NAMES.map(
  (name) => ({ name, description: EVENT_DESCRIPTIONS[name], operational: isOperationalEvent(name) }),
);

/** The events about the company's own webhook delivery, which the operations alerts carry. */
export const OPS_EVENTS: readonly string[] = OPERATIONAL_EVENTS;

export const DELIVERY_STATUSES = ['pending', 'success', 'failed', 'dead'];

export const AUTH_METHODS = [
  { value: 'none', label: 'None' },
  { value: 'bearer', label: 'Bearer Token' },
  { value: 'api_key', label: 'API Key (X-API-Key)' },
  { value: 'custom_header', label: 'Custom Header' },
];

export const SHIELD_LEVELS = ['low', 'medium', 'high', 'extreme'];

export const HTTPS_RULE = 'URL must start with https://';
