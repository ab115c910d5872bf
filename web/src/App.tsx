import { Boot } from './components/Boot';
import { Layout } from './components/Layout';
import { Redirect } from './components/Redirect';
import { ComplaintDetailPage } from './pages/ComplaintDetail';
import { ComplaintsPage } from './pages/Complaints';
import { FeedbackRecordPage } from './pages/FeedbackRecord';
import { IntegrationsPage } from './pages/Integrations';
import { LoginPage } from './pages/Login';
import { ReportsPage } from './pages/Reports';
import { OperationsPage } from './pages/Operations';
import { RetentionPage } from './pages/Retention';
import { SlaCalendarPage } from './pages/SlaCalendar';
import { navigate, useLocation } from './router';
import { SessionContext, type Session } from './session';
import { useSignedIn } from './signed-in';

function safeNext(next: string | null): string {
  // Only same-site paths: `?next=//evil.example` must not become an open redirect.
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/complaints';
}

export function App() {
  const { state, signedIn, signOut } = useSignedIn<Session>({
    sessionUrl: '/api/session',
    logoutUrl: '/api/session/logout',
    afterSignOut: '/login',
  });
  const loc = useLocation();

  if (state.kind === 'loading') return <Boot />;

  if (state.kind === 'signed-out') {
    return (
      <LoginPage
        expired={state.expired}
        onSignedIn={(session) => {
          signedIn(session);
          const next =
            loc.path === '/login'
              ? safeNext(loc.search.get('next'))
              : loc.path === '/'
                ? '/complaints'
                : loc.path + (loc.search.toString() ? `?${loc.search}` : '');
          navigate(next, { replace: true });
        }}
      />
    );
  }

  return (
    <SessionContext.Provider value={{ session: state.session, signOut }}>
      <Layout>
        <Routes />
      </Layout>
    </SessionContext.Provider>
  );
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function Routes() {
  const { path, search } = useLocation();
  if (path === '/' || path === '/login')
    return <Redirect to={path === '/login' ? safeNext(search.get('next')) : '/complaints'} />;
  if (path === '/complaints' || path === '/complaints/') return <ComplaintsPage />;
  const complaint = /^\/complaints\/([^/]+)\/?$/.exec(path);
  if (complaint) return <ComplaintDetailPage id={decodeURIComponent(complaint[1])} />;
  // Every Shield alert links here (record.url): the record with its levels, thread and alerts.
  const feedback = /^\/shield\/feedback\/([^/]+)\/?$/.exec(path);
  const recordId = feedback ? safeDecode(feedback[1]) : null;
  if (recordId !== null) return <FeedbackRecordPage id={recordId} />;
  if (/^\/shield(\/feedback)?\/?$/.test(path)) return <Redirect to="/settings/integrations/shield" />;
  if (path === '/settings/sla' || path === '/settings/sla/') return <SlaCalendarPage />;
  if (path === '/reports' || path === '/reports/') return <ReportsPage />;
  if (
    path === '/settings' ||
    path === '/settings/' ||
    path === '/settings/integrations' ||
    path === '/settings/integrations/'
  ) {
    return <Redirect to="/settings/integrations/api-keys" />;
  }
  if (path === '/settings/retention' || path === '/settings/retention/') return <RetentionPage />;
  if (path === '/settings/operations' || path === '/settings/operations/') return <OperationsPage />;
  const tab = /^\/settings\/integrations\/([a-z-]+)\/?$/.exec(path);
  if (tab) return <IntegrationsPage tab={tab[1]} />;
  return (
    <section class="page">
      <h1>Page not found</h1>
      <p>
        There is nothing at <code>{path}</code>.{' '}
        <a href="/complaints" onClick={(e) => (e.preventDefault(), navigate('/complaints'))}>
          Go to complaints
        </a>
        .
      </p>
    </section>
  );
}
