import type { ComponentChildren } from 'preact';
import { BrandMark } from './Brand';
import { SignOutButton } from './SignOutButton';
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
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/complaints" class="brand" aria-label="Escalatr home">
          <BrandMark />
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
          <SignOutButton signOut={signOut} />
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
