import { useState } from 'preact/hooks';
import { api } from '../api';
import { TextField } from '../components/Field';
import { Outcome } from '../components/Notice';
import { useAction } from '../hooks';
import type { ComplaintDetail } from '../types';

/** Admins give a complaint to a colleague, or move it to another (a claim is assigning yourself). */
export function AssignSection({ complaint, onChanged }: { complaint: ComplaintDetail; onChanged: () => void }) {
  const [email, setEmail] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const assign = async (e: Event) => {
    e.preventDefault();
    if (!email.trim()) return setInvalid('Enter the email of a staff member of your company.');
    setInvalid(null);
    const done = await action.run(
      () =>
        api.post(`/api/v1/complaints/${encodeURIComponent(complaint.escalatr_id)}/assign`, { assignee: email.trim() }),
      `Assigned to ${email.trim().toLowerCase()}.`,
    );
    if (done !== undefined) {
      setEmail('');
      onChanged();
    }
  };
  return (
    <section class="card" aria-labelledby="assign-title">
      <h2 id="assign-title">{complaint.claimed_by ? 'Reassign' : 'Assign'}</h2>
      <form onSubmit={assign} class="stack">
        <TextField
          label="Assign to (staff email)"
          type="email"
          value={email}
          onValue={setEmail}
          error={invalid}
          maxLength={320}
          autoComplete="off"
          hint="An owner, admin or agent of your company. The response window keeps running."
        />
        <div>
          <button type="submit" class="btn" disabled={action.busy}>
            Assign
          </button>
        </div>
        <Outcome error={action.error} success={action.success} />
      </form>
    </section>
  );
}
