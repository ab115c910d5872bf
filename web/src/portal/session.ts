import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/** What `POST /api/consumer/session/redeem` and `GET /api/consumer/session` answer. */
export interface PortalSession {
  consumer: { email: string; name: string | null };
  csrf_token: string;
  expires_at: string;
}

export const PortalSessionContext = createContext<{ session: PortalSession; signOut: () => Promise<void> } | null>(
  null,
);

export function usePortalSession(): { session: PortalSession; signOut: () => Promise<void> } {
  const value = useContext(PortalSessionContext);
  if (!value) throw new Error('usePortalSession outside a signed-in page');
  return value;
}

/** Where the portal's pages live; every link and redirect is built from these. */
export const PORTAL = '/portal';
export const complaintsPath = `${PORTAL}/complaints`;
export const newComplaintPath = `${PORTAL}/complaints/new`;
export const complaintPath = (id: string) => `${PORTAL}/complaints/${encodeURIComponent(id)}`;
export const consumerApi = (id: string) => `/api/consumer/v1/complaints/${encodeURIComponent(id)}`;
