/** The plans a company can be on, and which of them reach the API. */
export const PLANS = ['free', 'starter', 'professional', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];
export const API_PLANS: readonly Plan[] = ['professional', 'enterprise'];
