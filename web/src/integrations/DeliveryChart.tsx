import { formatDate } from '../format';

/** Attempts in one time bucket, by outcome (the stats route counts attempts, not deliveries). */
export interface Bucket {
  start: number;
  success: number;
  failed: number;
  failedByKind: Record<string, number>;
}

const SERIES: Array<{ key: 'success' | 'failed'; label: string; cls: string }> = [
  { key: 'success', label: 'Delivered (2xx)', cls: 'c-success' },
  { key: 'failed', label: 'Failed attempts', cls: 'c-dead' },
];

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : Number(v) || 0);

/** Reads `GET /deliveries/stats`: `{ buckets: [{ start, success, failed, failed_by_kind }] }`, oldest first. */
export function normaliseStats(data: unknown): Bucket[] {
  const d = data as { buckets?: unknown } | unknown[] | null;
  const arr = (Array.isArray(d) ? d : Array.isArray(d?.buckets) ? d.buckets : []) as Array<Record<string, unknown>>;
  return arr
    .map((b) => ({
      start: new Date(String(b.start)).getTime(),
      success: num(b.success),
      failed: num(b.failed),
      failedByKind: (b.failed_by_kind ?? {}) as Record<string, number>,
    }))
    .filter((b) => Number.isFinite(b.start))
    .sort((a, b) => a.start - b.start);
}

function bucketTitle(b: Bucket): string {
  const kinds = Object.entries(b.failedByKind)
    .map(([k, n]) => `${n} ${k.replace(/_/g, ' ')}`)
    .join(', ');
  return `${formatDate(b.start)}: ${b.success} delivered, ${b.failed} failed${kinds ? ` (${kinds})` : ''}`;
}

/** A stacked bar per time bucket; an inline SVG, so nothing is fetched and it scales with the card. */
export function DeliveryChart({ buckets, bucketLabel }: { buckets: Bucket[]; bucketLabel: string }) {
  const W = 720;
  const H = 160;
  const PAD_L = 34;
  const PAD_B = 22;
  const totals = SERIES.map((s) => ({ ...s, total: buckets.reduce((n, b) => n + b[s.key], 0) }));
  const max = Math.max(1, ...buckets.map((b) => b.success + b.failed));
  const slot = (W - PAD_L) / Math.max(1, buckets.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => ((H - PAD_B - 4) * v) / max;
  const summary = totals.map((t) => `${t.total} ${t.label.toLowerCase()}`).join(', ');
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 6));
  const tickFormat = new Intl.DateTimeFormat(
    undefined,
    bucketLabel === 'day' ? { month: 'short', day: 'numeric' } : { hour: '2-digit', minute: '2-digit' },
  );
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Delivery attempts per ${bucketLabel}: ${summary}`}
        preserveAspectRatio="none"
      >
        <line x1={PAD_L} y1={H - PAD_B} x2={W} y2={H - PAD_B} class="axis" />
        <line x1={PAD_L} y1={4} x2={W} y2={4} class="grid" />
        <text x={PAD_L - 6} y={12} class="tick" text-anchor="end">
          {max}
        </text>
        <text x={PAD_L - 6} y={H - PAD_B} class="tick" text-anchor="end">
          0
        </text>
        {buckets.map((b, i) => {
          let top = H - PAD_B;
          const x = PAD_L + i * slot + (slot - barW) / 2;
          return (
            <g key={b.start}>
              <title>{bucketTitle(b)}</title>
              {/* an invisible full-height target, so even an empty bucket shows its tooltip */}
              <rect x={PAD_L + i * slot} y={0} width={slot} height={H - PAD_B} class="hit" />
              {SERIES.map((s) => {
                const h = y(b[s.key]);
                if (h <= 0) return null;
                top -= h;
                return <rect key={s.key} x={x} y={top} width={barW} height={h} class={s.cls} rx={1.5} />;
              })}
              {i % labelEvery === 0 && (
                <text x={x + barW / 2} y={H - 6} class="tick" text-anchor="middle">
                  {tickFormat.format(b.start)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {totals.map((t) => (
          <span key={t.key} class="legend-item">
            <span class={`swatch ${t.cls}`} aria-hidden="true" />
            {t.label} <strong>{t.total}</strong>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
