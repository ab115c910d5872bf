import type { ComponentChildren } from 'preact';

type Kind = 'success' | 'error' | 'info' | 'warning';

/** A message block. Errors interrupt (role=alert); the rest are announced politely (role=status). */
export function Notice({ kind, children, title }: { kind: Kind; children?: ComponentChildren; title?: string }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {title && <strong class="notice-title">{title}</strong>}
      {children && <div>{children}</div>}
    </div>
  );
}

/** The outcome of an action: its error, else its success message, else nothing. */
export function Outcome({ error, success }: { error?: string | null; success?: string | null }) {
  if (error) return <Notice kind="error">{error}</Notice>;
  if (success) return <Notice kind="success">{success}</Notice>;
  return null;
}
