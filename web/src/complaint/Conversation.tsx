import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge } from '../components/Badge';
import { TextArea, TextField } from '../components/Field';
import { Loaded } from '../components/Loaded';
import { Outcome } from '../components/Notice';
import { formatDate, formatMoney } from '../format';
import type { Async } from '../hooks';
import { useAction } from '../hooks';
import type { ComplaintDetail, Followup, Message, SettlementOffer } from '../types';
import { MessageThread } from './MessageThread';

interface SectionProps<T> {
  complaint: ComplaintDetail;
  items: Async<T[]>;
  canWrite: boolean;
  onChanged: () => void;
}

const base = (c: ComplaintDetail) => `/api/v1/complaints/${encodeURIComponent(c.escalatr_id)}`;
const active = (c: ComplaintDetail) => c.status === 'Open' || c.status === 'Escalated';

export function MessagesSection({ complaint, items, canWrite, onChanged }: SectionProps<Message>) {
  return (
    <MessageThread
      items={items}
      author={(m) => m.author ?? (m.author_kind === 'staff' ? 'Staff' : 'Consumer')}
      reply={
        canWrite && active(complaint)
          ? {
              path: `${base(complaint)}/messages`,
              label: 'Reply to the consumer',
              button: 'Send reply',
              sent: 'Reply sent.',
              onSent: onChanged,
            }
          : null
      }
    />
  );
}

export function SettlementsSection({ complaint, items, canWrite, onChanged }: SectionProps<SettlementOffer>) {
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState(complaint.currency ?? 'USD');
  const [terms, setTerms] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const action = useAction();
  const offer = async (e: Event) => {
    e.preventDefault();
    const n = Number(amount);
    const next: Record<string, string> = {};
    if (amount.trim() === '' || !Number.isFinite(n) || n < 0) next.amount = 'Enter an amount of 0 or more.';
    if (!/^[A-Z]{3}$/.test(currency.trim().toUpperCase()))
      next.currency = 'Use a three-letter currency code such as INR or USD.';
    if (!terms.trim()) next.terms = 'Describe the terms of the offer.';
    setErrors(next);
    if (Object.keys(next).length) return;
    const done = await action.run(
      () =>
        api.post(`${base(complaint)}/settlements`, {
          amount: n,
          currency: currency.trim().toUpperCase(),
          terms: terms.trim(),
        }),
      'Settlement offer sent.',
    );
    if (done !== undefined) {
      setAmount('');
      setTerms('');
      onChanged();
    }
  };
  return (
    <section class="card" aria-labelledby="settlements-title">
      <h2 id="settlements-title">Settlement offers</h2>
      <Loaded items={items} empty="No offers made.">
        {(list) => (
          <ul class="plain-list">
            {list.map((o) => (
              <li key={o.id}>
                <strong>{formatMoney(o.amount, o.currency)}</strong> <Badge value={o.status} />
                {o.counter_amount != null && (
                  <span class="muted"> · counter {formatMoney(o.counter_amount, o.currency)}</span>
                )}
                <div>{o.terms}</div>
                <div class="muted small">
                  {o.created_by ? `${o.created_by} · ` : ''}
                  {formatDate(o.created_at)}
                </div>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      {canWrite && active(complaint) && (
        <form onSubmit={offer} class="stack">
          <div class="grid-2">
            <TextField
              label="Amount"
              type="number"
              min="0"
              step="0.01"
              inputMode="decimal"
              value={amount}
              onValue={setAmount}
              error={errors.amount}
            />
            <TextField
              label="Currency"
              value={currency}
              onValue={setCurrency}
              maxLength={3}
              error={errors.currency}
              autoCapitalize="characters"
            />
          </div>
          <TextArea label="Terms" value={terms} onValue={setTerms} rows={2} maxLength={5000} error={errors.terms} />
          <div>
            <button type="submit" class="btn btn-primary" disabled={action.busy}>
              Offer settlement
            </button>
          </div>
          <Outcome error={action.error} success={action.success} />
        </form>
      )}
    </section>
  );
}

export function FollowupsSection({ complaint, items, canWrite, onChanged }: SectionProps<Followup>) {
  const [question, setQuestion] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const ask = async (e: Event) => {
    e.preventDefault();
    if (!question.trim()) return setInvalid('Write the question first.');
    setInvalid(null);
    const done = await action.run(
      () => api.post(`${base(complaint)}/followups`, { question: question.trim() }),
      'Question sent to the consumer.',
    );
    if (done !== undefined) {
      setQuestion('');
      onChanged();
    }
  };
  return (
    <section class="card" aria-labelledby="followups-title">
      <h2 id="followups-title">Follow-up questions</h2>
      <Loaded items={items} empty="No follow-up questions asked.">
        {(list) => (
          <ul class="plain-list">
            {list.map((f) => (
              <li key={f.id}>
                <strong>{f.question}</strong>
                <div>{f.answer ? f.answer : <span class="muted">Not answered yet</span>}</div>
                <div class="muted small">
                  {f.asked_by ? `${f.asked_by} · ` : ''}
                  {formatDate(f.created_at)}
                </div>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      {canWrite && active(complaint) && (
        <form onSubmit={ask} class="stack">
          <TextField
            label="Ask a follow-up question"
            value={question}
            onValue={setQuestion}
            maxLength={5000}
            error={invalid}
          />
          <div>
            <button type="submit" class="btn btn-primary" disabled={action.busy}>
              Ask question
            </button>
          </div>
          <Outcome error={action.error} success={action.success} />
        </form>
      )}
    </section>
  );
}
