import { shieldTargets } from '../shield/destinations/index.js';
import { endpointTarget } from './endpoint-target.js';
import type { TargetRegistry } from './targets.js';

/** Every kind of delivery target the worker knows: company webhook endpoints and Shield destinations. */
export function defaultTargets(): TargetRegistry {
  return { endpoint: endpointTarget, ...shieldTargets };
}
