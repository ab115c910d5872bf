const TONES: Record<string, string> = {
  open: 'info',
  escalated: 'warning',
  resolved: 'success',
  withdrawn: 'neutral',
  success: 'success',
  pending: 'info',
  failed: 'warning',
  dead: 'danger',
  none: 'neutral',
  revoked: 'neutral',
  active: 'success',
  low: 'neutral',
  medium: 'info',
  high: 'warning',
  critical: 'danger',
  extreme: 'danger',
  disabled: 'neutral',
  enabled: 'success',
  accepted: 'success',
  rejected: 'danger',
  countered: 'warning',
  answered: 'success',
};

/** A small coloured label for a status or level; the word itself carries the meaning, colour only helps. */
export function Badge({ value, tone }: { value: string; tone?: string }) {
  const t = tone ?? TONES[value.toLowerCase()] ?? 'neutral';
  return <span class={`badge badge-${t}`}>{value}</span>;
}
