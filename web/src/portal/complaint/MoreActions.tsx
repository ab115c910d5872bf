import { useState } from 'preact/hooks';
import { api } from '../../api';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { SelectField, TextField } from '../../components/Field';
import { Outcome } from '../../components/Notice';
import { useAction } from '../../hooks';
import { navigate } from '../../router';
import type { ComplaintDetail } from '../../types';
import { complaintsPath, consumerApi } from '../session';

const WITHDRAW_REASONS = [
  { value: 'resolved_elsewhere', label: 'It was sorted out another way' },
  { value: 'no_longer_needed', label: 'I no longer need it' },
  { value: 'filed_by_mistake', label: 'I filed it by mistake' },
  { value: 'other', label: 'Another reason' },
];

/** Handing the complaint to someone else, and withdrawing it: the rarer steps, kept apart from the next step. */
export function MoreActions({ complaint: c, onChanged }: { complaint: ComplaintDetail; onChanged: () => void }) {
  const delegate = useAction();
  const withdraw = useAction();
  const [to, setTo] = useState('');
  const [transfer, setTransfer] = useState(false);
  const [toError, setToError] = useState<string | null>(null);
  const [reason, setReason] = useState('resolved_elsewhere');
  const [confirming, setConfirming] = useState(false);
  const base = consumerApi(c.escalatr_id);

  const submitDelegate = async (e: Event) => {
    e.preventDefault();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to.trim())) return setToError('Enter the email address of the person.');
    setToError(null);
    const done = await delegate.run(
      () => api.post(`${base}/delegate`, { to_email: to.trim(), immediate_transfer: transfer }),
      transfer ? `Handed over to ${to.trim()}.` : `${to.trim()} can now act on this complaint for you.`,
    );
    // Handed over, the complaint is no longer this consumer's to see.
    if (done !== undefined && transfer) navigate(complaintsPath);
    else if (done !== undefined) {
      setTo('');
      onChanged();
    }
  };
  const confirmWithdraw = async () => {
    const done = await withdraw.run(
      () => api.post(`${base}/withdraw`, { reason_code: reason }),
      'Complaint withdrawn.',
    );
    setConfirming(false);
    if (done !== undefined) onChanged();
  };

  return (
    <section class="card" aria-labelledby="more-title">
      <h2 id="more-title">Other steps</h2>
      <form noValidate onSubmit={submitDelegate} class="stack" aria-labelledby="delegate-title">
        <h3 id="delegate-title">Delegate</h3>
        <p class="muted small">
          Let someone act for you, such as a family member or an adviser
          {c.delegated_to ? ` (now: ${c.delegated_to})` : ''}.
        </p>
        <TextField
          label="Their email"
          type="email"
          inputMode="email"
          autoComplete="off"
          value={to}
          onValue={setTo}
          error={toError}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={transfer}
            onChange={(e) => setTransfer((e.currentTarget as HTMLInputElement).checked)}
          />
          Hand the complaint over to them completely
        </label>
        <div>
          <button type="submit" class="btn" disabled={delegate.busy}>
            Delegate
          </button>
        </div>
        <Outcome error={delegate.error} success={delegate.success} />
      </form>
      <div class="stack portal-withdraw">
        <h3 id="withdraw-title">Withdraw</h3>
        <SelectField label="Reason" value={reason} onValue={setReason} options={WITHDRAW_REASONS} />
        <div>
          <button
            type="button"
            class="btn btn-danger-quiet"
            disabled={withdraw.busy}
            onClick={() => setConfirming(true)}
          >
            Withdraw complaint
          </button>
        </div>
        <Outcome error={withdraw.error} success={withdraw.success} />
      </div>
      <ConfirmDialog
        open={confirming}
        title={`Withdraw ${c.escalatr_id}?`}
        confirmLabel="Withdraw"
        danger
        busy={withdraw.busy}
        onConfirm={confirmWithdraw}
        onCancel={() => setConfirming(false)}
      >
        <p>The company stops working on it and it cannot be reopened.</p>
      </ConfirmDialog>
    </section>
  );
}
