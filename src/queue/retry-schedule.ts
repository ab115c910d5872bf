const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The seed's schedule: retries 1 min, 5 min, 30 min, 2 h, 6 h after attempts 1–5; the 6th failure is final. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000];

/** Parses "1m,5m,30m,2h,6h" (units ms, s, m, h, d) into delays in milliseconds. */
export function parseRetrySchedule(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('must list at least one delay, e.g. 1m,5m,30m,2h,6h');
  if (parts.length > 20) throw new Error('may list at most 20 delays');
  return parts.map((part) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a delay such as 30s, 5m or 2h`);
    return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
  });
}

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
