/** The seed's schedule: retries 1 min, 5 min, 30 min, 2 h, 6 h after attempts 1–5; the 6th failure is final. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000];

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
