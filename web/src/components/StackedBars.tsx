/** One bar of a stacked bar chart: its label and a value per series. */
export interface StackedBar {
  label: string;
  values: number[];
}

export interface Series {
  label: string;
  color: string;
}

/**
 * Stacked bars in an inline SVG (no chart library: nothing is fetched and it scales with the card). Each bar has a
 * tooltip with its figures, and the legend gives each series' total, so the numbers are readable without the colours.
 */
export function StackedBars({ title, bars, series }: { title: string; bars: StackedBar[]; series: Series[] }) {
  const W = 720;
  const H = 170;
  const PAD_L = 34;
  const PAD_B = 22;
  const max = Math.max(1, ...bars.map((b) => b.values.reduce((a, v) => a + v, 0)));
  const slot = (W - PAD_L) / Math.max(1, bars.length);
  const barW = Math.max(2, Math.min(60, slot * 0.7));
  const y = (v: number) => ((H - PAD_B - 4) * v) / max;
  const labelEvery = Math.max(1, Math.ceil(bars.length / 8));
  const totals = series.map((s, i) => bars.reduce((n, b) => n + (b.values[i] ?? 0), 0));
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: ${series.map((s, i) => `${totals[i]} ${s.label}`).join(', ')}`}
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
        {bars.map((b, i) => {
          let top = H - PAD_B;
          const x = PAD_L + i * slot + (slot - barW) / 2;
          return (
            <g key={b.label}>
              <title>{`${b.label}: ${series.map((s, j) => `${b.values[j] ?? 0} ${s.label}`).join(', ')}`}</title>
              <rect x={PAD_L + i * slot} y={0} width={slot} height={H - PAD_B} class="hit" />
              {series.map((s, j) => {
                const h = y(b.values[j] ?? 0);
                if (h <= 0) return null;
                top -= h;
                return <rect key={s.label} x={x} y={top} width={barW} height={h} fill={s.color} rx={1.5} />;
              })}
              {i % labelEvery === 0 && (
                <text x={x + barW / 2} y={H - 6} class="tick" text-anchor="middle">
                  {b.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {series.map((s, i) => (
          <span key={s.label} class="legend-item">
            <span class="swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label} <strong>{totals[i]}</strong>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
