import { Boot } from '../components/Boot';
import { Redirect } from '../components/Redirect';
import { Link, navigate, useLocation } from '../router';
import { useSignedIn } from '../signed-in';
import { PortalLayout } from './PortalLayout';
import { ComplaintPage } from './pages/ComplaintPage';
import { FollowLinkPage } from './pages/FollowLink';
import { MyComplaintsPage } from './pages/MyComplaints';
import { NewComplaintPage } from './pages/NewComplaint';
import { SignInPage } from './pages/SignIn';
import { complaintsPath, newComplaintPath, PORTAL, PortalSessionContext, type PortalSession } from './session';

/** The consumer portal: sign in with a one-time link, then file and follow complaints. */
export function PortalApp() {
  const { path } = useLocation();
  const { state, signedIn, signOut } = useSignedIn<PortalSession>({
    sessionUrl: '/api/consumer/session',
    logoutUrl: '/api/consumer/session/logout',
    afterSignOut: PORTAL,
    // A sign-in link opens its own page, which makes the session; there is nothing to ask before it.
    skipLookup: path.startsWith(`${PORTAL}/sign-in`),
  });

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
  if (state.kind === 'loading') return <Boot />;
  if (state.kind === 'signed-out') return <SignInPage expired={state.expired} />;
  return (
    <PortalSessionContext.Provider value={{ session: state.session, signOut }}>
      <PortalLayout>
        <Routes />
      </PortalLayout>
    </PortalSessionContext.Provider>
  );
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
