import { useRef, useState } from 'preact/hooks';
import { api } from '../../api';
import { Badge } from '../../components/Badge';
import { TextArea, TextField } from '../../components/Field';
import { Loaded } from '../../components/Loaded';
import { Outcome } from '../../components/Notice';
import { formatDate, formatMoney } from '../../format';
import type { Async } from '../../hooks';
import { useAction } from '../../hooks';
import type { ComplaintDetail, Evidence, Followup, Message, SettlementOffer } from '../../types';
import { MessageThread } from '../../complaint/MessageThread';
import { consumerApi } from '../session';

interface SectionProps<T> {
  complaint: ComplaintDetail;
  items: Async<T[]>;
  onChanged: () => void;
}

/** Messages, evidence, offers and questions are accepted in every state but Resolved and Withdrawn. */
const open = (c: ComplaintDetail) => c.awaiting !== null;

/** Questions the company asked; each unanswered one has its own answer form. */
export function FollowupsSection({ complaint, items, onChanged }: SectionProps<Followup>) {
  const pending = (items.data ?? []).filter((f) => f.answer === null);
  return (
    <section class="card" aria-labelledby="followups-title">
      <h2 id="followups-title">
        Questions from the company{' '}
        {pending.length > 0 && <Badge value={`${pending.length} to answer`} tone="warning" />}
      </h2>
      <Loaded items={items} empty="The company has not asked you anything.">
        {(list) => (
          <ul class="plain-list">
            {list.map((f) => (
              <li key={f.id}>
                <strong>{f.question}</strong>
                <div class="muted small">Asked {formatDate(f.created_at)}</div>
                {f.answer !== null ? (
                  <p>
                    Your answer: <q>{f.answer}</q>
                  </p>
                ) : open(complaint) ? (
                  <AnswerForm complaint={complaint} followup={f} onChanged={onChanged} />
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </section>
  );
}

function AnswerForm({
  complaint,
  followup,
  onChanged,
}: {
  complaint: ComplaintDetail;
  followup: Followup;
  onChanged: () => void;
}) {
  const [answer, setAnswer] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!answer.trim()) return setInvalid('Write your answer first.');
    setInvalid(null);
    const done = await action.run(() =>
      api.post(`${consumerApi(complaint.escalatr_id)}/followups/${encodeURIComponent(followup.id)}/answer`, {
        answer: answer.trim(),
      }),
    );
    if (done !== undefined) onChanged();
  };
  return (
    <form noValidate onSubmit={submit} class="stack">
      <TextArea label="Your answer" value={answer} onValue={setAnswer} rows={2} maxLength={10000} error={invalid} />
      <div>
        <button type="submit" class="btn btn-primary" disabled={action.busy}>
          Send answer
        </button>
      </div>
      <Outcome error={action.error} />
    </form>
  );
}

/** Offers the company made; an open one can be accepted, rejected or countered with another amount. */
export function SettlementsSection({ complaint, items, onChanged }: SectionProps<SettlementOffer>) {
  return (
    <section class="card" aria-labelledby="offers-title">
      <h2 id="offers-title">Settlement offers</h2>
      <Loaded items={items} empty="No offers yet.">
        {(list) => (
          <ul class="plain-list">
            {list.map((o) => (
              <li key={o.id}>
                <div class="portal-card-head">
                  <strong>{formatMoney(o.amount, o.currency)}</strong>
                  <Badge value={o.status} />
                </div>
                <p>{o.terms}</p>
                {o.counter_amount != null && (
                  <div class="muted small">You countered with {formatMoney(o.counter_amount, o.currency)}</div>
                )}
                <div class="muted small">Offered {formatDate(o.created_at)}</div>
                {o.status === 'open' && open(complaint) && (
                  <OfferResponse complaint={complaint} offer={o} onChanged={onChanged} />
                )}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </section>
  );
}

function OfferResponse({
  complaint,
  offer,
  onChanged,
}: {
  complaint: ComplaintDetail;
  offer: SettlementOffer;
  onChanged: () => void;
}) {
  const [counter, setCounter] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const path = `${consumerApi(complaint.escalatr_id)}/settlements/${encodeURIComponent(offer.id)}/respond`;
  const respond = async (body: { action: 'accept' | 'reject' | 'counter'; counter_amount?: number }) => {
    const done = await action.run(() => api.post(path, body));
    if (done !== undefined) onChanged();
  };
  const submitCounter = async (e: Event) => {
    e.preventDefault();
    const n = Number(counter);
    if (counter.trim() === '' || !Number.isFinite(n) || n < 0) return setInvalid('Enter the amount you would accept.');
    setInvalid(null);
    await respond({ action: 'counter', counter_amount: n });
  };
  return (
    <div class="stack">
      <div class="btn-row">
        <button
          type="button"
          class="btn btn-primary"
          disabled={action.busy}
          onClick={() => respond({ action: 'accept' })}
        >
          Accept offer
        </button>
        <button type="button" class="btn" disabled={action.busy} onClick={() => respond({ action: 'reject' })}>
          Reject offer
        </button>
      </div>
      <form noValidate onSubmit={submitCounter} class="inline-form stack">
        <TextField
          label={`Counter-offer (${offer.currency})`}
          type="number"
          min="0"
          step="0.01"
          inputMode="decimal"
          value={counter}
          onValue={setCounter}
          error={invalid}
        />
        <div>
          <button type="submit" class="btn" disabled={action.busy}>
            Send counter-offer
          </button>
        </div>
      </form>
      <Outcome error={action.error} />
    </div>
  );
}

/** The conversation with the company, oldest first, and a box to write in. */
export function MessagesSection({ complaint, items, onChanged }: SectionProps<Message>) {
  return (
    <MessageThread
      items={items}
      author={(m) => (m.author_kind === 'staff' ? 'The company' : 'You')}
      reply={
        open(complaint)
          ? {
              path: `${consumerApi(complaint.escalatr_id)}/messages`,
              label: 'Message to the company',
              button: 'Send message',
              sent: 'Message sent.',
              onSent: onChanged,
            }
          : null
      }
    />
  );
}

/** The same cap the server applies to one file. */
const MAX_EVIDENCE_BYTES = 5 * 1024 * 1024;

const toBase64 = async (file: File): Promise<string> => {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};

/** Files that back the complaint (receipts, photos): listed with a link to each, and an upload form. */
export function EvidenceSection({ complaint, items, onChanged }: SectionProps<Evidence>) {
  const input = useRef<HTMLInputElement>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const base = consumerApi(complaint.escalatr_id);
  const upload = async (e: Event) => {
    e.preventDefault();
    const file = input.current?.files?.[0];
    if (!file) return setInvalid('Choose a file first.');
    if (file.size > MAX_EVIDENCE_BYTES) return setInvalid('The file is over 5 MB. Choose a smaller one.');
    setInvalid(null);
    const done = await action.run(
      async () =>
        api.post(`${base}/evidence`, {
          // The API refuses separators and control characters in a name; a browser's file name may hold them.
          file_name: Array.from(file.name, (ch) =>
            /[/\\]/.test(ch) || ch.charCodeAt(0) < 0x20 || ch === '\x7f' ? '_' : ch,
          )
            .join('')
            .slice(0, 255),
          content_type: /^[\w.+-]+\/[\w.+-]+$/.test(file.type) ? file.type : 'application/octet-stream',
          content_base64: await toBase64(file),
        }),
      `Uploaded ${file.name}.`,
    );
    if (done !== undefined) {
      if (input.current) input.current.value = '';
      onChanged();
    }
  };
  return (
    <section class="card" aria-labelledby="evidence-title">
      <h2 id="evidence-title">Evidence</h2>
      <Loaded items={items} empty="No files uploaded.">
        {(list) => (
          <ul class="plain-list small">
            {list.map((ev) => (
              <li key={ev.id}>
                <a href={`${base}/evidence/${encodeURIComponent(ev.id)}/content`} target="_blank" rel="noopener">
                  {ev.file_name}
                </a>{' '}
                <span class="muted small">
                  {Math.max(1, Math.round(ev.size / 1024))} KB · {formatDate(ev.created_at)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      {open(complaint) && (
        <form noValidate onSubmit={upload} class="stack">
          <div class="field">
            <label for="evidence-file">Add a file (up to 5 MB)</label>
            <input
              id="evidence-file"
              ref={input}
              type="file"
              aria-describedby={invalid ? 'evidence-file-msg' : undefined}
              aria-invalid={invalid ? true : undefined}
            />
            {invalid && (
              <p class="field-error" id="evidence-file-msg" role="alert">
                {invalid}
              </p>
            )}
          </div>
          <div>
            <button type="submit" class="btn" disabled={action.busy}>
              {action.busy ? 'Uploading…' : 'Upload'}
            </button>
          </div>
          <Outcome error={action.error} success={action.success} />
        </form>
      )}
    </section>
  );
}
