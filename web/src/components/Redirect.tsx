import { useEffect } from 'preact/hooks';
import { navigate } from '../router';

/** Replaces the current address with another as soon as it renders. */
export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
