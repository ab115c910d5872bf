import type { AnchorHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** A small history router: the dashboard has a handful of pages, so a table of patterns is all it needs. */
const listeners = new Set<() => void>();

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export interface Location {
  path: string;
  search: URLSearchParams;
}

export function useLocation(): Location {
  const read = () => ({ path: location.pathname, search: new URLSearchParams(location.search) });
  const [loc, setLoc] = useState<Location>(read);
  useEffect(() => {
    const update = () => setLoc(read());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return loc;
}

/** Replaces some query parameters of the current page, keeping the others (filters live in the URL). */
export function setSearch(
  changes: Record<string, string | number | null | undefined>,
  opts: { replace?: boolean } = {},
): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), opts);
}

type AnchorProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; children?: ComponentChildren };

/** An ordinary link (so open-in-new-tab works) that navigates in place on a plain click. */
export function Link({ href, children, ...rest }: AnchorProps) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/**
 * Where a feedback record lives in the dashboard: the same path the server puts in every Shield alert's
 * `record.url`, so a link from an alert, the Shield list or a thread all open the same page.
 */
export const feedbackRecordPath = (recordId: string) => `/shield/feedback/${encodeURIComponent(recordId)}`;

/** The deliveries view narrowed to one delivery, opened on its attempts. */
export const deliveryPath = (deliveryId: string) =>
  `/settings/integrations/deliveries?delivery=${encodeURIComponent(deliveryId)}`;
