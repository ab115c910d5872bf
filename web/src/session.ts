import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

type Role = 'owner' | 'admin' | 'agent' | 'viewer';

/** What `POST /api/session/login` and `GET /api/session` answer. */
export interface Session {
  user: { email: string; role: Role };
  company: { code: string; name: string; plan: string };
  csrf_token: string;
  server?: { allow_http_webhooks?: boolean };
}

export const API_PLANS = ['professional', 'enterprise'];

/** Mirrors the server's role permissions, only to hide controls; the API enforces them. */
export const canWork = (s: Session) => s.user.role !== 'viewer';
export const canAdmin = (s: Session) => s.user.role === 'owner' || s.user.role === 'admin';

export const SessionContext = createContext<{ session: Session; signOut: () => Promise<void> } | null>(null);

export function useSession(): { session: Session; signOut: () => Promise<void> } {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside a signed-in page');
  return value;
}
