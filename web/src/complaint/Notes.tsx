import { useState } from 'preact/hooks';
import { api } from '../api';
import { TextArea } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { formatDate } from '../format';
import type { Async } from '../hooks';
import { useAction } from '../hooks';
import type { ComplaintDetail, Note } from '../types';

const MAX_NOTE_CHARS = 10_000;

/** Internal notes: staff write to each other here; the consumer never sees them (the API keeps them off their side). */
export function NotesSection({
  complaint,
  items,
  canWrite,
  onChanged,
}: {
  complaint: ComplaintDetail;
  items: Async<Note[]>;
  canWrite: boolean;
  onChanged: () => void;
}) {
  const [body, setBody] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const add = async (e: Event) => {
    e.preventDefault();
    if (!body.trim()) return setInvalid('Write the note first.');
    if (body.length > MAX_NOTE_CHARS)
      return setInvalid(`A note has at most ${MAX_NOTE_CHARS.toLocaleString()} characters.`);
    setInvalid(null);
    const done = await action.run(
      () => api.post(`/api/v1/complaints/${encodeURIComponent(complaint.escalatr_id)}/notes`, { body: body.trim() }),
      'Note added.',
    );
    if (done !== undefined) {
      setBody('');
      onChanged();
    }
  };
  return (
    <section class="card notes-card" aria-labelledby="notes-title">
      <h2 id="notes-title">Internal notes</h2>
      <p class="muted small">Only your team sees these; the consumer never does.</p>
      {items.error ? (
        <Notice kind="error">{items.error}</Notice>
      ) : !items.data ? (
        <p class="muted">Loading…</p>
      ) : items.data.length === 0 ? (
        <p class="muted">No notes yet.</p>
      ) : (
        <ul class="notes">
          {items.data.map((n) => (
            <li key={n.id} class="note">
              <div class="muted small">
                {n.author} · {formatDate(n.created_at)}
              </div>
              <p>{n.body}</p>
            </li>
          ))}
        </ul>
      )}
      {canWrite && (
        <form onSubmit={add} class="stack">
          <TextArea
            label="Internal note (staff only)"
            value={body}
            onValue={setBody}
            rows={3}
            maxLength={MAX_NOTE_CHARS}
            error={invalid}
          />
          <div>
            <button type="submit" class="btn" disabled={action.busy}>
              Add note
            </button>
          </div>
          <Outcome error={action.error} success={action.success} />
        </form>
      )}
    </section>
  );
}
