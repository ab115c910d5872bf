import type { DomainContext } from '../domain/context.js';

/**
 * In-process wake-up for the Shield processor: ingestion signals after its commit, the processor of the same context
 * scores at once instead of on its next interval. Keyed by context, so two apps in one process (tests) stay apart.
 * Other processes (a CLI import, another API node) are found by the processor's interval.
 */
const listeners = new WeakMap<DomainContext, Set<() => void>>();

export function onFeedbackStored(ctx: DomainContext, listener: () => void): () => void {
  let set = listeners.get(ctx);
  if (!set) listeners.set(ctx, (set = new Set()));
  set.add(listener);
  return () => set!.delete(listener);
}

/** Call after the commit that stored unscored records, never before (the processor could miss them). */
export function feedbackStored(ctx: DomainContext): void {
  for (const listener of listeners.get(ctx) ?? []) listener();
}
