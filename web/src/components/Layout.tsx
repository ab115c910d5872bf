import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { capitalise } from '../format';
import { Link, useLocation } from '../router';
import { useSession } from '../session';

const NAV = [
  { href: '/complaints', label: 'Complaints', match: ['/complaints'] },
  { href: '/reports', label: 'Reports', match: ['/reports'] },
  // A Shield feedback record belongs to the Escalation Shield tab of Integrations.
  { href: '/settings/integrations/api-keys', label: 'Integrations', match: ['/settings/integrations', '/shield'] },
  { href: '/settings/retention', label: 'Data retention', match: ['/settings/retention'] },
  { href: '/settings/sla', label: 'SLA calendar', match: ['/settings/sla'] },
  { href: '/settings/operations', label: 'Operations', match: ['/settings/operations'] },
];

/** The frame of every signed-in page: company and user at the top, the sections on the side. */
export function Layout({ children }: { children: ComponentChildren }) {
  const { session, signOut } = useSession();
  const { path } = useLocation();
  const [signingOut, setSigningOut] = useState(false);
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/complaints" class="brand" aria-label="Escalatr home">
          <span class="brand-mark" aria-hidden="true">
            E
          </span>
          Escalatr
        </Link>
        <div class="company">
          <span class="company-name">{session.company.name}</span>
          <span class="badge badge-neutral" title="Plan">
            {capitalise(session.company.plan)}
          </span>
        </div>
        <div class="user">
          <span class="user-email">{session.user.email}</span>
          <span class="muted">· {capitalise(session.user.role)}</span>
          <button
            type="button"
            class="btn btn-quiet"
            disabled={signingOut}
            onClick={async () => {
              setSigningOut(true);
              await signOut();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <div class="frame">
        <nav class="sidenav" aria-label="Sections">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link
                  href={n.href}
                  class="navlink"
                  aria-current={n.match.some((m) => path.startsWith(m)) ? 'page' : undefined}
                >
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1} class="content">
          {children}
        </main>
      </div>
    </div>
  );
}
