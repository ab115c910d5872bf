import type { ComponentChildren } from 'preact';
import type { Async } from '../hooks';
import { Notice } from './Notice';

/** A list that loads on its own: its error, a loading line, an empty line, or the rendered items. */
export function Loaded<T>({
  items,
  empty,
  children,
}: {
  items: Async<T[]>;
  empty: string;
  children: (list: T[]) => ComponentChildren;
}) {
  if (items.error) return <Notice kind="error">{items.error}</Notice>;
  if (!items.data) return <p class="muted">Loading…</p>;
  if (items.data.length === 0) return <p class="muted">{empty}</p>;
  return <>{children(items.data)}</>;
}
