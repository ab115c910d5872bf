import { useState } from 'preact/hooks';
import { api } from '../api';
import { TextArea } from '../components/Field';
import { Outcome } from '../components/Notice';
import { useAction } from '../hooks';
import type { ComplaintDetail } from '../types';

const isActive = (c: ComplaintDetail) => c.awaiting !== null;

/** Claim, release and complete: the steps that move ownership and close the staff side of a complaint. */
export function StaffActions({ complaint, onChanged }: { complaint: ComplaintDetail; onChanged: () => void }) {
  const action = useAction();
  const [notes, setNotes] = useState('');
  const [notesError, setNotesError] = useState<string | null>(null);
  const base = `/api/v1/complaints/${encodeURIComponent(complaint.escalatr_id)}`;
  const active = isActive(complaint);
  const completed = complaint.company_completed;
  // The same rules the API applies: claim first, then release or complete; once completed, the consumer acts next.
  const canClaim = active && !completed && !complaint.claimed_by;
  const canRelease = active && !completed && Boolean(complaint.claimed_by);
  const canComplete = active && !completed && Boolean(complaint.claimed_by);

  const step = async (path: string, body: unknown, message: string) => {
    const done = await action.run(() => api.post(`${base}/${path}`, body), message);
    if (done !== undefined) onChanged();
    return done !== undefined;
  };

  const complete = async (e: Event) => {
    e.preventDefault();
    if (!notes.trim()) {
      setNotesError('Write the resolution notes before completing.');
      return;
    }
    setNotesError(null);
    if (await step('complete', { resolution_notes: notes.trim() }, 'Complaint completed.')) setNotes('');
  };

  return (
    <section class="card" aria-labelledby="staff-actions-title">
      <h2 id="staff-actions-title">Staff actions</h2>
      <p class="muted small">
        {completed ? (
          <>
            <strong>Completed by the company.</strong> Waiting for the consumer to confirm it as resolved, or to
            escalate it if they disagree.
          </>
        ) : complaint.claimed_by ? (
          <>
            Claimed by <strong>{complaint.claimed_by}</strong>
          </>
        ) : active ? (
          'Not claimed by anyone yet. Claim it to complete it.'
        ) : (
          `This complaint is ${complaint.status.toLowerCase()}.`
        )}
      </p>
      <div class="btn-row">
        {canClaim && (
          <button
            type="button"
            class="btn btn-primary"
            disabled={action.busy}
            onClick={() => step('claim', undefined, 'You claimed this complaint.')}
          >
            Claim
          </button>
        )}
        {canRelease && (
          <button
            type="button"
            class="btn"
            disabled={action.busy}
            onClick={() => step('release', undefined, 'Complaint released.')}
          >
            Release
          </button>
        )}
      </div>
      {canComplete && (
        <form onSubmit={complete} class="stack">
          <TextArea
            label="Resolution notes"
            value={notes}
            onValue={setNotes}
            rows={3}
            maxLength={10000}
            error={notesError}
            hint="Sent to webhooks with the complaint.completed event."
          />
          <div>
            <button type="submit" class="btn btn-primary" disabled={action.busy}>
              Complete
            </button>
          </div>
        </form>
      )}
      <Outcome error={action.error} success={action.success} />
    </section>
  );
}
