/**
 * When the next attempt is due after `failedAttempts` failures, or null once the schedule is used up (dead).
 * A receiver's Retry-After is honoured only when it asks for longer than the schedule would wait.
 */
export function nextRetryDelay(
  schedule: readonly number[],
  failedAttempts: number,
  retryAfterMs?: number | null,
): number | null {
  if (failedAttempts < 1 || failedAttempts > schedule.length) return null;
  const planned = schedule[failedAttempts - 1];
  return retryAfterMs && retryAfterMs > planned ? retryAfterMs : planned;
}
