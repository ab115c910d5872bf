import { useState } from 'preact/hooks';
import { api, errorMessage } from '../../api';
import { TextField } from '../../components/Field';
import { Notice } from '../../components/Notice';
import { SignInCard } from '../../components/SignInCard';

/**
 * Asks for a one-time sign-in link. The answer is the same whether or not the address has complaints here, so the
 * page says only where the link went.
 */
export function SignInPage({ expired, notice }: { expired?: boolean; notice?: string }) {
  const [email, setEmail] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sentTo, setSentTo] = useState<{ email: string; minutes: number } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = email.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
      setInvalid('Enter the email address you use for your complaints, such as name@example.com.');
      return;
    }
    setInvalid(null);
    setBusy(true);
    setError(null);
    try {
      const sent = await api.post<{ expires_in_seconds: number }>('/api/consumer/session/link', { email: value });
      setSentTo({ email: value, minutes: Math.round(sent.expires_in_seconds / 60) });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <SignInCard heading="Follow your complaints">
      {expired && <Notice kind="info">Your session ended. Ask for a new sign-in link to continue.</Notice>}
      {notice && <Notice kind="error">{notice}</Notice>}
      {sentTo ? (
        <div class="stack">
          <Notice kind="success" title="Check your email">
            We sent a sign-in link to <strong>{sentTo.email}</strong>. It works once, within {sentTo.minutes} minutes.
          </Notice>
          <button type="button" class="btn btn-block" onClick={() => setSentTo(null)}>
            Use another address
          </button>
        </div>
      ) : (
        <form onSubmit={submit} noValidate>
          <p class="muted">
            File a complaint against a company and follow it to the end. We email you a link to sign in: no password
            needed.
          </p>
          <TextField
            label="Email"
            type="email"
            autoComplete="email"
            inputMode="email"
            value={email}
            onValue={setEmail}
            error={invalid}
            required
          />
          {error && <Notice kind="error">{error}</Notice>}
          <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
            {busy ? 'Sending…' : 'Email me a sign-in link'}
          </button>
        </form>
      )}
    </SignInCard>
  );
}
