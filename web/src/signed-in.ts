import { useEffect, useState } from 'preact/hooks';
import { api, onSessionLost, setCsrfToken } from './api';
import { navigate } from './router';

export type SignInState<S> =
  { kind: 'loading' } | { kind: 'signed-out'; expired?: boolean } | { kind: 'signed-in'; session: S };

/**
 * The session of one audience (staff or consumer): asked for once on load, dropped when the server says it is gone
 * (shown as expired), and ended by signing out. `skipLookup` starts signed out without asking, for a page that makes
 * the session itself.
 */
export function useSignedIn<S extends { csrf_token: string }>(opts: {
  sessionUrl: string;
  logoutUrl: string;
  afterSignOut: string;
  skipLookup?: boolean;
}) {
  const [state, setState] = useState<SignInState<S>>({ kind: 'loading' });

  const signedIn = (session: S) => {
    setCsrfToken(session.csrf_token);
    setState({ kind: 'signed-in', session });
  };

  useEffect(() => {
    onSessionLost(() => {
      setCsrfToken(null);
      setState({ kind: 'signed-out', expired: true });
    });
    if (opts.skipLookup) return setState({ kind: 'signed-out' });
    api
      .get<S>(opts.sessionUrl)
      .then(signedIn)
      .catch(() => setState({ kind: 'signed-out' }));
  }, []);

  const signOut = async () => {
    try {
      await api.post(opts.logoutUrl);
    } finally {
      setCsrfToken(null);
      setState({ kind: 'signed-out' });
      navigate(opts.afterSignOut);
    }
  };

  return { state, signedIn, signOut };
}
