import { useState } from 'preact/hooks';
import { api, errorMessage } from '../api';
import { TextField } from '../components/Field';
import { Notice } from '../components/Notice';
import { SignInCard } from '../components/SignInCard';
import type { Session } from '../session';

export function LoginPage({ onSignedIn, expired }: { onSignedIn: (s: Session) => void; expired?: boolean }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!email.trim() || !password) {
      setError('Enter your email and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.post<Session>('/api/session/login', { email: email.trim(), password }));
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <SignInCard heading="Sign in to your dashboard">
      {expired && <Notice kind="info">Your session ended. Sign in again to continue.</Notice>}
      <form onSubmit={submit} noValidate>
        <TextField label="Email" type="email" autoComplete="username" value={email} onValue={setEmail} required />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onValue={setPassword}
          required
        />
        {error && <Notice kind="error">{error}</Notice>}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </SignInCard>
  );
}
