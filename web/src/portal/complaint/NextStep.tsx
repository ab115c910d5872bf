import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { SelectField, TextField } from '../../components/Field';
import { Notice, Outcome } from '../../components/Notice';
import { formatDate } from '../../format';
import { useAction } from '../../hooks';
import type { ComplaintDetail } from '../../types';
import { consumerApi } from '../session';

const RESOLUTION_TYPES = [
  { value: 'refund', label: 'Refund' },
  { value: 'replacement', label: 'Replacement' },
  { value: 'repair', label: 'Repair' },
  { value: 'compensation', label: 'Compensation' },
  { value: 'explanation', label: 'Explanation or apology' },
  { value: 'other', label: 'Other' },
];

interface Props {
  complaint: ComplaintDetail;
  onChanged: () => void;
}

/**
 * What the consumer can do now, in words: confirm the company's answer, or escalate to the next level (while the
 * company works on it, or when its answer does not satisfy). Escalating is confirmed first: it cannot be undone.
 */
export function NextStep({ complaint: c, onChanged }: Props) {
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  const [type, setType] = useState('refund');
  const [recovered, setRecovered] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const base = consumerApi(c.escalatr_id);
  const lastLevel = c.escalation_level === 'L9';
  // A message about the last step is stale once the complaint waits on someone else: the heading says where it is.
  const { setSuccess, setError } = action;
  useEffect(() => {
    setSuccess(null);
    setError(null);
  }, [c.awaiting, setSuccess, setError]);

  const escalate = async () => {
    const done = await action.run(() => api.post(`${base}/escalate`), 'Escalated to the next level.');
    setConfirming(false);
    if (done !== undefined) onChanged();
  };
  const resolve = async (e: Event) => {
    e.preventDefault();
    const n = recovered.trim() === '' ? null : Number(recovered);
    if (n !== null && (!Number.isFinite(n) || n < 0))
      return setInvalid('Enter an amount of 0 or more, or leave it empty.');
    setInvalid(null);
    const done = await action.run(
      () => api.post(`${base}/resolve`, { resolution_type: type, amount_recovered: n }),
      'Thank you: the complaint is resolved.',
    );
    if (done !== undefined) onChanged();
  };

  if (c.awaiting === null) {
    return (
      <section class="card portal-next" aria-labelledby="next-title">
        <h2 id="next-title">This complaint is {c.status.toLowerCase()}</h2>
        {c.resolution?.notes && (
          <p>
            The company’s answer: <q>{c.resolution.notes}</q>
          </p>
        )}
        <Outcome error={action.error} success={action.success} />
      </section>
    );
  }

  const escalateButton = (
    <button type="button" class="btn" disabled={action.busy || lastLevel} onClick={() => setConfirming(true)}>
      {c.awaiting === 'consumer' ? 'Not satisfied: escalate' : 'Escalate'}
    </button>
  );

  return (
    <section class="card portal-next" aria-labelledby="next-title">
      {c.awaiting === 'consumer' ? (
        <>
          <h2 id="next-title">The company says it has resolved your complaint</h2>
          {c.resolution?.notes && (
            <blockquote class="portal-quote">
              <p>{c.resolution.notes}</p>
            </blockquote>
          )}
          <p>Confirm it if you are satisfied, or escalate it to the next level if you are not.</p>
          <form noValidate onSubmit={resolve} class="stack">
            <div class="grid-2">
              <SelectField label="How was it resolved?" value={type} onValue={setType} options={RESOLUTION_TYPES} />
              <TextField
                label="Amount recovered (optional)"
                type="number"
                min="0"
                step="0.01"
                inputMode="decimal"
                value={recovered}
                onValue={setRecovered}
                error={invalid}
              />
            </div>
            <div class="btn-row">
              <button type="submit" class="btn btn-primary" disabled={action.busy}>
                Confirm resolved
              </button>
              {escalateButton}
            </div>
          </form>
        </>
      ) : (
        <>
          <h2 id="next-title">Waiting for the company</h2>
          <p>
            {c.claimed_by ? 'Someone at the company is working on it.' : 'The company has not picked it up yet.'}{' '}
            {c.sla_paused
              ? 'Its response time is paused until you answer its question or offer.'
              : c.sla_due_at
                ? `It should answer by ${formatDate(c.sla_due_at)}.`
                : ''}
          </p>
          {c.is_overdue && <Notice kind="warning">The company is late answering: you can escalate now.</Notice>}
          <div class="btn-row">{escalateButton}</div>
        </>
      )}
      {lastLevel && <p class="muted small">This complaint is at the highest level (L9) and cannot go higher.</p>}
      <Outcome error={action.error} success={action.success} />
      <ConfirmDialog
        open={confirming}
        title={`Escalate ${c.escalatr_id} to the next level?`}
        confirmLabel="Escalate"
        busy={action.busy}
        onConfirm={escalate}
        onCancel={() => setConfirming(false)}
      >
        <p>
          It moves from {c.escalation_level} to the next level, and the company gets a new response time. This cannot be
          undone.
        </p>
      </ConfirmDialog>
    </section>
  );
}
