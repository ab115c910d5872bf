import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge } from '../components/Badge';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { SelectField, TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { capitalise, formatDate, formatRelative } from '../format';
import { useAction, useAsync } from '../hooks';
import { API_PLANS, canAdmin, useSession } from '../session';
import type { ApiKey } from '../types';

/** Settings → Integrations → API Keys, as the Platform API's set-up describes it: the full key is shown once. */
export function ApiKeysTab() {
  const { session } = useSession();
  if (!API_PLANS.includes(session.company.plan)) {
    return (
      <Notice kind="info" title="API keys are not available on your plan">
        Keys are available on the Professional and Enterprise plans. {session.company.name} is on the{' '}
        {capitalise(session.company.plan)} plan, so the Platform API is not enabled. Upgrade to create keys.
      </Notice>
    );
  }
  if (!canAdmin(session)) return <Notice kind="info">Only owners and admins can see and manage API keys.</Notice>;
  return <ApiKeys />;
}

function ApiKeys() {
  const keys = useAsync(() => api.get<ApiKey[]>('/api/v1/api-keys'), []);
  const [created, setCreated] = useState<{ key: string; name: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const revoke = useAction();
  const [notice, setNotice] = useState<string | null>(null);

  return (
    <div class="stack-lg">
      <p class="lead">
        Keys authenticate the Platform API (<code>Authorization: Bearer esc_…</code> or <code>X-API-Key</code>). A key
        is shown in full once, when it is created; store it somewhere safe. It can't be retrieved again, only revoked.
      </p>
      {!created && (
        <CreateKeyForm
          onCreated={(key, name) => {
            setNotice(null);
            setCreated({ key, name });
            void keys.reload();
          }}
        />
      )}
      {created && (
        <section class="card reveal" aria-labelledby="new-key-title">
          <h2 id="new-key-title">Your new key “{created.name}”</h2>
          <Notice kind="warning">
            Copy this key now. You won't be able to see it again — only its prefix is kept.
          </Notice>
          <div class="secret-row">
            <label class="sr-only" for="new-api-key">
              New API key
            </label>
            <input
              id="new-api-key"
              class="mono"
              readOnly
              value={created.key}
              onFocus={(e) => (e.currentTarget as HTMLInputElement).select()}
            />
            <CopyButton text={created.key} what="API key" />
          </div>
          <div class="btn-row">
            <button type="button" class="btn btn-primary" onClick={() => setCreated(null)}>
              I've stored it — done
            </button>
          </div>
        </section>
      )}
      {notice && <Notice kind="success">{notice}</Notice>}
      <section class="card flush" aria-labelledby="keys-title">
        <h2 id="keys-title" class="card-title-pad">
          Keys
        </h2>
        {keys.error && <Notice kind="error">{keys.error}</Notice>}
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Scope</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data?.map((k) => (
                <tr key={k.id} class={k.revoked_at ? 'dimmed' : undefined}>
                  <td class="strong">{k.name}</td>
                  <td class="mono">{k.prefix}…</td>
                  <td>
                    <Badge
                      value={k.scope === 'admin' ? 'Admin' : 'Read'}
                      tone={k.scope === 'admin' ? 'warning' : 'neutral'}
                    />
                  </td>
                  <td class="nowrap">{formatDate(k.created_at)}</td>
                  <td class="nowrap" title={k.last_used_at ? formatDate(k.last_used_at) : undefined}>
                    {formatRelative(k.last_used_at)}
                  </td>
                  <td>
                    {k.revoked_at ? <Badge value="Revoked" tone="neutral" /> : <Badge value="Active" tone="success" />}
                  </td>
                  <td class="actions">
                    {!k.revoked_at && (
                      <button
                        type="button"
                        class="btn btn-danger-quiet"
                        onClick={() => setRevoking(k)}
                        aria-label={`Revoke key ${k.name}`}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
              {keys.data?.length === 0 && (
                <tr>
                  <td colSpan={7} class="empty">
                    No API keys yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke “${revoking?.name ?? ''}”?`}
        confirmLabel="Revoke key"
        danger
        busy={revoke.busy}
        error={revoke.error}
        onCancel={() => {
          setRevoking(null);
          revoke.setError(null);
        }}
        onConfirm={async () => {
          const key = revoking!;
          const done = await revoke.run(() => api.del(`/api/v1/api-keys/${encodeURIComponent(key.id)}`));
          if (done !== undefined) {
            setRevoking(null);
            setNotice(`Key “${key.name}” revoked.`);
            void keys.reload();
          }
        }}
      >
        <p>
          Requests signed with <span class="mono">{revoking?.prefix}…</span> will be refused with 401 at once. This
          cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (key: string, name: string) => void }) {
  const [name, setName] = useState('');
  const [scope, setScope] = useState('read');
  const [nameError, setNameError] = useState<string | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return setNameError('Give the key a name, such as “Helpdesk sync”.');
    setNameError(null);
    const res = await action.run(() =>
      api.post<{ key: string; name?: string }>('/api/v1/api-keys', { name: name.trim(), scope }),
    );
    if (res) {
      setName('');
      onCreated(res.key, name.trim());
    }
  };
  return (
    <section class="card" aria-labelledby="create-key-title">
      <h2 id="create-key-title">Create a key</h2>
      <form onSubmit={submit} class="inline-form">
        <TextField
          label="Name"
          value={name}
          onValue={setName}
          maxLength={100}
          error={nameError}
          placeholder="Helpdesk sync"
        />
        <SelectField
          label="Scope"
          value={scope}
          onValue={setScope}
          options={[
            { value: 'read', label: 'Read — complaints and events' },
            { value: 'admin', label: 'Admin — also webhooks, automations, resends' },
          ]}
        />
        <button type="submit" class="btn btn-primary align-end" disabled={action.busy}>
          Create key
        </button>
      </form>
      <Outcome error={action.error} />
    </section>
  );
}
