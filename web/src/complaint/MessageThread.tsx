import { useState } from 'preact/hooks';
import { api } from '../api';
import { TextArea } from '../components/Field';
import { Loaded } from '../components/Loaded';
import { Outcome } from '../components/Notice';
import { formatDate } from '../format';
import type { Async } from '../hooks';
import { useAction } from '../hooks';
import type { Message } from '../types';

/** Where a reply goes and how the form reads to the audience that writes it. */
export interface ReplyForm {
  path: string;
  label: string;
  button: string;
  sent: string;
  onSent: () => void;
}

/**
 * The conversation between the company and the consumer, oldest first, with a box to write in when `reply` is given.
 * Each audience names the authors its own way.
 */
export function MessageThread({
  items,
  author,
  reply,
}: {
  items: Async<Message[]>;
  author: (m: Message) => string;
  reply: ReplyForm | null;
}) {
  return (
    <section class="card" aria-labelledby="messages-title">
      <h2 id="messages-title">Messages</h2>
      <Loaded items={items} empty="No messages yet.">
        {(list) => (
          <ul class="messages">
            {[...list]
              .sort((a, b) => a.created_at.localeCompare(b.created_at))
              .map((m) => (
                <li key={m.id} class={`message ${m.author_kind === 'staff' ? 'from-staff' : 'from-consumer'}`}>
                  <div class="muted small">
                    {author(m)} · {formatDate(m.created_at)}
                  </div>
                  <p>{m.body}</p>
                </li>
              ))}
          </ul>
        )}
      </Loaded>
      {reply && <Reply {...reply} />}
    </section>
  );
}

function Reply({ path, label, button, sent, onSent }: ReplyForm) {
  const [body, setBody] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const send = async (e: Event) => {
    e.preventDefault();
    if (!body.trim()) return setInvalid('Write a message first.');
    setInvalid(null);
    const done = await action.run(() => api.post(path, { body: body.trim() }), sent);
    if (done !== undefined) {
      setBody('');
      onSent();
    }
  };
  return (
    <form noValidate onSubmit={send} class="stack">
      <TextArea label={label} value={body} onValue={setBody} rows={3} maxLength={10000} error={invalid} />
      <div>
        <button type="submit" class="btn btn-primary" disabled={action.busy}>
          {button}
        </button>
      </div>
      <Outcome error={action.error} success={action.success} />
    </form>
  );
}
