import { shieldTargets } from '../shield/destinations/index.js';
import { endpointTarget } from '../webhooks/endpoint-target.js';
import type { TargetRegistry } from '../webhooks/targets.js';

/**
 * Every kind of delivery target the worker knows: company webhook endpoints and Shield destinations. Filled in here,
 * above both, because the worker must not know the parts that hand it work (Shield itself builds on webhooks).
 */
export function deliveryTargets(): TargetRegistry {
  return { endpoint: endpointTarget, ...shieldTargets };
}
