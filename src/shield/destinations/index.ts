import type { TargetRegistry } from '../../webhooks/targets.js';
import { brokerTarget } from './broker.js';
import { emailTarget } from './email.js';
import { operationsTargets } from './operations.js';
import { slackTarget } from './slack.js';
import { webhookTarget } from './webhook.js';

/**
 * The delivery targets of Shield destinations and of the company's operations alerts, keyed by `deliveries.target`;
 * the worker merges them with 'endpoint'.
 */
export const shieldTargets: TargetRegistry = {
  webhook: webhookTarget,
  slack: slackTarget,
  email: emailTarget,
  broker: brokerTarget,
  ...operationsTargets,
};
