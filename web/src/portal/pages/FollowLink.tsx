import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorMessage } from '../../api';
import { Link } from '../../router';
import { PORTAL, type PortalSession } from '../session';

const TITLES: Record<string, string> = {
  used: 'This sign-in link was already used',
  expired: 'This sign-in link has expired',
  unknown: 'This sign-in link is not valid',
};

/**
 * Where a mailed link lands (`/portal/sign-in#token=…`). The token is read from the fragment, taken out of the
 * address bar at once, and POSTed: the link is used up by this page, never by a mail scanner fetching the URL.
 */
export function FollowLinkPage({ onSignedIn }: { onSignedIn: (s: PortalSession) => void }) {
  const [failure, setFailure] = useState<{ title: string; message: string } | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = 'Signing in · Escalatr';
    const token = new URLSearchParams(location.hash.slice(1)).get('token');
    history.replaceState(null, '', `${PORTAL}/sign-in`);
    if (!token) {
      setFailure({
        title: TITLES.unknown,
        message: 'The link has no sign-in token. Open the whole link from the mail.',
      });
      return;
    }
    api
      .post<PortalSession>('/api/consumer/session/redeem', { token })
      .then(onSignedIn)
      .catch((err) => {
        const reason = err instanceof ApiError ? String(err.details?.reason ?? '') : '';
        setFailure({ title: TITLES[reason] ?? 'Could not sign you in', message: errorMessage(err) });
      });
  }, []);
  useEffect(() => {
    if (failure) {
      document.title = `${failure.title} · Escalatr`;
      heading.current?.focus();
    }
  }, [failure]);

  return (
    <main class="login">
      <div class="login-card">
        <div class="brand big">
          <span class="brand-mark" aria-hidden="true">
            E
          </span>
          Escalatr
        </div>
        {failure ? (
          <div class="stack" role="alert">
            <h1 ref={heading} tabIndex={-1}>
              {failure.title}
            </h1>
            <p>{failure.message}</p>
            <Link href={PORTAL} class="btn btn-primary btn-block">
              Get a new sign-in link
            </Link>
          </div>
        ) : (
          <p role="status">Signing you in…</p>
        )}
      </div>
    </main>
  );
}
