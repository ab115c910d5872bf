import { useState } from 'preact/hooks';
import { api } from '../api';
import { Notice } from '../components/Notice';
import { useAsync } from '../hooks';
import { canAdmin, useSession } from '../session';
import type { CreatedEndpoint, Endpoint } from '../types';
import { WebhookCard } from './WebhookCard';

/** Settings → Integrations → Webhooks: the Webhook Notifications cards, one per endpoint. */
export function WebhooksTab() {
  const { session } = useSession();
  if (!canAdmin(session)) return <Notice kind="info">Only owners and admins can see and change webhooks.</Notice>;
  return <Webhooks allowHttp={Boolean(session.server?.allow_http_webhooks)} />;
}

function Webhooks({ allowHttp }: { allowHttp: boolean }) {
  const endpoints = useAsync(() => api.list<Endpoint>('/api/v1/webhooks?limit=100').then((p) => p.data), []);
  const [adding, setAdding] = useState(false);
  const [flash, setFlash] = useState<{ id: string; text: string } | null>(null);
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [removed, setRemoved] = useState<string | null>(null);

  const onSaved = (e: Endpoint | CreatedEndpoint, text: string) => {
    if ('secret' in e) setSecrets((s) => ({ ...s, [e.id]: e.secret }));
    setFlash({ id: e.id, text });
    setAdding(false);
    setRemoved(null);
    void endpoints.reload();
  };

  const list = endpoints.data ?? [];
  // With no endpoint yet, the card is shown straight away, off, as the published set-up's first step shows it.
  const showNew = adding || (endpoints.data !== undefined && list.length === 0);
  return (
    <div class="stack-lg">
      <div class="section-head">
        <div>
          <h2>Webhook Notifications</h2>
          <p class="lead">
            Escalatr POSTs a signed JSON event to your endpoint the moment something changes. Choose the events, save,
            and use Test to send a sample <code>webhook.test</code> event.
          </p>
        </div>
        {list.length > 0 && !adding && (
          <button type="button" class="btn btn-primary" onClick={() => setAdding(true)}>
            Add endpoint
          </button>
        )}
      </div>
      {allowHttp && (
        <Notice kind="info">
          This is a development server: it also delivers to http:// URLs. Production servers accept https:// only.
        </Notice>
      )}
      {endpoints.error && <Notice kind="error">{endpoints.error}</Notice>}
      {removed && <Notice kind="success">{removed}</Notice>}
      {!endpoints.data && !endpoints.error && <p class="muted">Loading…</p>}
      {showNew && (
        <WebhookCard
          allowHttp={allowHttp}
          onSaved={onSaved}
          onDeleted={() => undefined}
          onCancelNew={list.length > 0 ? () => setAdding(false) : undefined}
        />
      )}
      {list.map((e) => (
        <WebhookCard
          key={e.id}
          endpoint={e}
          initialSecret={secrets[e.id]}
          allowHttp={allowHttp}
          flash={flash?.id === e.id ? flash.text : null}
          onSaved={onSaved}
          onDeleted={(d) => {
            setRemoved(`Webhook ${d.url} deleted.`);
            void endpoints.reload();
          }}
        />
      ))}
    </div>
  );
}
