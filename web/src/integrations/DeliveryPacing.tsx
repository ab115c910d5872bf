import { TextField } from '../components/Field';
import type { Endpoint } from '../types';

/**
 * The webhook card's pacing: whether one complaint's events go to this endpoint in order, one at a time, and how
 * many attempts a second it takes at most (across every worker). The server checks both again on save.
 */

export interface PacingForm {
  ordered: boolean;
  /** As typed; empty: no limit. */
  rateLimit: string;
}

export function pacingFormOf(e?: Endpoint): PacingForm {
  return {
    ordered: e?.ordering === 'per_complaint',
    rateLimit: e?.rate_limit_per_s == null ? '' : String(e.rate_limit_per_s),
  };
}

export interface PacingProblems {
  rateLimit?: string;
}

const rateOf = (text: string): number | null => (text.trim() === '' ? null : Number(text.trim()));

export function pacingProblems(form: PacingForm): PacingProblems {
  const rate = rateOf(form.rateLimit);
  if (rate !== null && (!Number.isInteger(rate) || rate < 1 || rate > 10_000))
    return { rateLimit: 'Enter a whole number from 1 to 10,000 a second, or leave it empty for no limit.' };
  return {};
}

/** The fields of a create or update body that changed from `saved` (all of them for a new endpoint). */
export function pacingBody(form: PacingForm, saved: PacingForm | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (!saved || form.ordered !== saved.ordered) body.ordering = form.ordered ? 'per_complaint' : 'none';
  if (!saved || rateOf(form.rateLimit) !== rateOf(saved.rateLimit)) body.rate_limit_per_s = rateOf(form.rateLimit);
  return body;
}

interface Props {
  cardId: string;
  value: PacingForm;
  onChange: (value: PacingForm) => void;
  problems: PacingProblems;
  showErrors: boolean;
  /** When the receiver asked (429 with Retry-After) for no deliveries before: ISO time, or null. */
  heldUntil: string | null;
}

export function DeliveryPacing({ cardId, value, onChange, problems, showErrors, heldUntil }: Props) {
  const set = (patch: Partial<PacingForm>) => onChange({ ...value, ...patch });
  return (
    <fieldset class="events">
      <legend>Order and pace</legend>
      <label class="check">
        <input
          id={`ordered-${cardId}`}
          type="checkbox"
          checked={value.ordered}
          onChange={(e) => set({ ordered: (e.currentTarget as HTMLInputElement).checked })}
        />
        Deliver each complaint's events in order, one at a time
      </label>
      <p class="hint">
        A failing event then holds back only that complaint's later events to this endpoint until it succeeds or its
        retries run out; other complaints keep flowing.
      </p>
      <TextField
        label="Rate limit (deliveries a second)"
        type="number"
        min="1"
        max="10000"
        step="1"
        value={value.rateLimit}
        onValue={(v) => set({ rateLimit: v })}
        placeholder="No limit"
        error={showErrors ? problems.rateLimit : undefined}
        hint="Across all workers. A 429 answer with Retry-After also pauses this endpoint until then."
      />
      {heldUntil && (
        <p class="hint" role="status">
          Paused by the receiver (429, Retry-After) until {new Date(heldUntil).toLocaleString()}.
        </p>
      )}
    </fieldset>
  );
}
