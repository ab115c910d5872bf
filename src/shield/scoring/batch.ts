import { scoreFeedback, type ScoreResult } from './score.js';

// sentiment_shift compares with the last few records of the thread; more history would not change it.
export const HISTORY_MAX = 20;

export interface ScoringTask {
  /** One company's records in arrival order (a thread's records are scored in the order they were sent). */
  records: Array<{ content: string; thread: string | null }>;
  /** Per thread: sentiments of its records scored before this batch, oldest first. */
  histories: Record<string, number[]>;
}

export type ScoredRecord = { ok: true; score: ScoreResult } | { ok: false; error: string };

/**
 * Scores a batch in order. A record's history is its thread's earlier records: those scored before the batch and
 * those earlier in it, so a thread sent in one batch scores as if its records had arrived one by one.
 */
export function scoreBatch(task: ScoringTask): ScoredRecord[] {
  const histories = new Map(Object.entries(task.histories).map(([thread, s]) => [thread, [...s]]));
  return task.records.map(({ content, thread }) => {
    const history = thread === null ? [] : (histories.get(thread) ?? []);
    try {
      const score = scoreFeedback({ content, history: history.map((sentiment) => ({ sentiment })) });
      if (thread !== null) histories.set(thread, [...history, score.sentiment].slice(-HISTORY_MAX));
      return { ok: true, score };
    } catch (err) {
      // One record the scorer cannot handle must not block every record behind it.
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  });
}
