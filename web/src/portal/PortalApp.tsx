import { useEffect, useState } from 'preact/hooks';
import { api, onSessionLost, setCsrfToken } from '../api';
import { Link, navigate, useLocation } from '../router';
import { PortalLayout } from './PortalLayout';
import { ComplaintPage } from './pages/ComplaintPage';
import { FollowLinkPage } from './pages/FollowLink';
import { MyComplaintsPage } from './pages/MyComplaints';
import { NewComplaintPage } from './pages/NewComplaint';
import { SignInPage } from './pages/SignIn';
import { complaintsPath, newComplaintPath, PORTAL, PortalSessionContext, type PortalSession } from './session';

type State =
  { kind: 'loading' } | { kind: 'signed-out'; expired?: boolean } | { kind: 'signed-in'; session: PortalSession };

/** The consumer portal: sign in with a one-time link, then file and follow complaints. */
export function PortalApp() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const { path } = useLocation();

  const signedIn = (session: PortalSession) => {
    setCsrfToken(session.csrf_token);
    setState({ kind: 'signed-in', session });
  };

  useEffect(() => {
    onSessionLost(() => {
      setCsrfToken(null);
      setState({ kind: 'signed-out', expired: true });
    });
    // A sign-in link opens its own page, which makes the session; there is nothing to ask before it.
    if (path.startsWith(`${PORTAL}/sign-in`)) return setState({ kind: 'signed-out' });
    api
      .get<PortalSession>('/api/consumer/session')
      .then(signedIn)
      .catch(() => setState({ kind: 'signed-out' }));
  }, []);

  const signOut = async () => {
    try {
      await api.post('/api/consumer/session/logout');
    } finally {
      setCsrfToken(null);
      setState({ kind: 'signed-out' });
      navigate(PORTAL);
    }
  };

  if (path.startsWith(`${PORTAL}/sign-in`)) {
    return (
      <FollowLinkPage
        onSignedIn={(session) => {
          signedIn(session);
          navigate(complaintsPath, { replace: true });
        }}
      />
    );
  }
  if (state.kind === 'loading') {
    return (
      <div class="boot" role="status">
        Loading…
      </div>
    );
  }
  if (state.kind === 'signed-out') return <SignInPage expired={state.expired} />;
  return (
    <PortalSessionContext.Provider value={{ session: state.session, signOut }}>
      <PortalLayout>
        <Routes />
      </PortalLayout>
    </PortalSessionContext.Provider>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function Routes() {
  const { path } = useLocation();
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === PORTAL || trimmed === '') return <Redirect to={complaintsPath} />;
  if (trimmed === complaintsPath) return <MyComplaintsPage />;
  if (trimmed === newComplaintPath) return <NewComplaintPage />;
  const one = /^\/portal\/complaints\/([^/]+)$/.exec(trimmed);
  if (one) {
    let id: string | null;
    try {
      id = decodeURIComponent(one[1]);
    } catch {
      id = null;
    }
    if (id) return <ComplaintPage id={id} />;
  }
  return (
    <section class="page">
      <h1>Page not found</h1>
      <p>
        There is nothing at <code>{path}</code>. <Link href={complaintsPath}>Go to your complaints</Link>.
      </p>
    </section>
  );
}
