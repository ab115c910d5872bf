import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { SelectField } from '../components/Field';
import { Outcome } from '../components/Notice';
import { useAction } from '../hooks';

const GRACE = [
  { value: '0', label: 'No grace period — the old key stops at once' },
  { value: '3600', label: '1 hour — sign with both keys meanwhile' },
  { value: '86400', label: '24 hours — sign with both keys meanwhile' },
];

interface Props {
  /** The API path of the secret: GET reveals it, POST {path}/regenerate rotates it. */
  secretPath: string;
  /** Unique on the page, for the input's id. */
  fieldId: string;
  /** The secret from the create answer, so a fresh endpoint's key can be copied without another request. */
  initial?: string;
  /** What the key verifies, under the field. */
  hint?: ComponentChildren;
}

const ENDPOINT_HINT = (
  <>
    Verify each delivery's <code>X-Escalatr-Signature</code> (hex HMAC-SHA256 of the raw body) with this key. Keep it in
    your secret manager, never in frontend code or logs.
  </>
);

/** A signing secret (an endpoint's, a Shield webhook destination's): masked until revealed, copyable, rotatable. */
export function SecretField({ secretPath, fieldId, initial, hint = ENDPOINT_HINT }: Props) {
  const [secret, setSecret] = useState<string | null>(initial ?? null);
  const [revealed, setRevealed] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [grace, setGrace] = useState('0');
  const load = useAction();
  const regen = useAction();
  const base = secretPath;

  const fetchSecret = async (): Promise<string> => {
    if (secret) return secret;
    const { secret: s } = await api.get<{ secret: string }>(base);
    setSecret(s);
    return s;
  };

  const toggleReveal = async () => {
    if (revealed) return setRevealed(false);
    if ((await load.run(fetchSecret)) !== undefined) setRevealed(true);
  };

  const regenerate = async () => {
    const res = await regen.run(
      () => api.post<{ secret: string }>(`${base}/regenerate`, { grace_period_s: Number(grace) }),
      Number(grace) > 0
        ? `New secret key generated. The old key keeps signing alongside it for ${grace === '3600' ? '1 hour' : '24 hours'}; update your receiver now.`
        : 'New secret key generated. The old key no longer signs deliveries — update your receiver now.',
    );
    if (res) {
      setSecret(res.secret);
      setRevealed(true);
      setConfirming(false);
    }
  };

  const inputId = `secret-${fieldId}`;
  return (
    <div class="field">
      <label for={inputId}>Secret Key</label>
      <div class="secret-row">
        <input
          id={inputId}
          class="mono"
          readOnly
          value={revealed && secret ? secret : 'whsec_' + '•'.repeat(32)}
          aria-describedby={`${inputId}-hint`}
        />
        <button type="button" class="btn" onClick={toggleReveal} disabled={load.busy}>
          {revealed ? 'Hide' : 'Reveal'}
        </button>
        <CopyButton text={fetchSecret} what="Secret key" />
        <button type="button" class="btn btn-danger-quiet" onClick={() => setConfirming(true)}>
          Regenerate Key
        </button>
      </div>
      <p class="hint" id={`${inputId}-hint`}>
        {hint}
      </p>
      <Outcome error={load.error} />
      <Outcome success={regen.success} />
      <ConfirmDialog
        open={confirming}
        title="Regenerate the secret key?"
        confirmLabel="Regenerate Key"
        danger
        busy={regen.busy}
        error={regen.error}
        onCancel={() => {
          setConfirming(false);
          regen.setError(null);
        }}
        onConfirm={regenerate}
      >
        <p>
          Deliveries will be signed with a new key. Requests signed with the old key should be treated as invalid once
          your receiver has the new one.
        </p>
        <SelectField label="Grace period" value={grace} onValue={setGrace} options={GRACE} />
      </ConfirmDialog>
    </div>
  );
}
