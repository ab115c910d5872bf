import { useEffect, useState } from 'preact/hooks';
import { api, onSessionLost, setCsrfToken } from './api';
import { Layout } from './components/Layout';
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

type State = { kind: 'loading' } | { kind: 'signed-out'; expired?: boolean } | { kind: 'signed-in'; session: Session };

function safeNext(next: string | null): string {
  // Only same-site paths: `?next=//evil.example` must not become an open redirect.
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/complaints';
}

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const loc = useLocation();

  const signedIn = (session: Session) => {
    setCsrfToken(session.csrf_token);
    setState({ kind: 'signed-in', session });
  };

  useEffect(() => {
    onSessionLost(() => {
      setCsrfToken(null);
      setState({ kind: 'signed-out', expired: true });
    });
    api
      .get<Session>('/api/session')
      .then(signedIn)
      .catch(() => setState({ kind: 'signed-out' }));
  }, []);

  const signOut = async () => {
    try {
      await api.post('/api/session/logout');
    } finally {
      setCsrfToken(null);
      setState({ kind: 'signed-out' });
      navigate('/login');
    }
  };

  if (state.kind === 'loading') {
    return (
      <div class="boot" role="status">
        Loading…
      </div>
    );
  }

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

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
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
