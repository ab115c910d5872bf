import type { ComponentChildren } from 'preact';
import { BrandMark } from '../components/Brand';
import { SignOutButton } from '../components/SignOutButton';
import { Link, useLocation } from '../router';
import { complaintsPath, newComplaintPath, usePortalSession } from './session';

/** The frame of every signed-in portal page: one column, the two things a consumer does at the top. */
export function PortalLayout({ children }: { children: ComponentChildren }) {
  const { session, signOut } = usePortalSession();
  const { path } = useLocation();
  const onNew = path.startsWith(newComplaintPath);
  return (
    <div class="shell portal">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar portal-topbar">
        <Link href={complaintsPath} class="brand" aria-label="Escalatr: your complaints">
          <BrandMark />
        </Link>
        <div class="user">
          <span class="user-email">{session.consumer.email}</span>
          <SignOutButton signOut={signOut} />
        </div>
      </header>
      <nav class="portal-nav" aria-label="Sections">
        <Link
          href={complaintsPath}
          class="navlink"
          aria-current={path.startsWith(complaintsPath) && !onNew ? 'page' : undefined}
        >
          My complaints
        </Link>
        <Link href={newComplaintPath} class="navlink" aria-current={onNew ? 'page' : undefined}>
          File a complaint
        </Link>
      </nav>
      <main id="main" tabIndex={-1} class="content portal-content">
        {children}
      </main>
    </div>
  );
}
