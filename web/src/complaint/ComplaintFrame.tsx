import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { Badge } from '../components/Badge';
import { Notice } from '../components/Notice';
import type { Async } from '../hooks';
import { useAsync } from '../hooks';
import { Link } from '../router';
import type { ComplaintDetail, ComplaintEvent } from '../types';
import { Timeline } from './Timeline';

/** One kind of a complaint's records (messages, offers, …), loaded on its own so one failure never blanks a page. */
export function useComplaintRecords<T>(base: string, what: string): Async<T[]> {
  return useAsync(() => api.list<T>(`${base}/${what}?limit=100`).then((p) => p.data), [base]);
}

/**
 * The page of one complaint as either audience sees it: the breadcrumb back to the list, the title with its status
 * badges (each audience adds its own), a refresh button, and two columns whose contents the audience chooses.
 */
export function ComplaintFrame({
  id,
  back,
  complaint,
  onRefresh,
  badges,
  main,
  side,
}: {
  id: string;
  back: { href: string; label: string };
  complaint: Async<ComplaintDetail>;
  onRefresh: () => void;
  badges: (c: ComplaintDetail) => ComponentChildren;
  main: (c: ComplaintDetail) => ComponentChildren;
  side: (c: ComplaintDetail) => ComponentChildren;
}) {
  useEffect(() => {
    document.title = `${id} · Escalatr`;
  }, [id]);
  const c = complaint.data;
  return (
    <section class="page" aria-labelledby="complaint-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <Link href={back.href}>{back.label}</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">{id}</span>
      </nav>
      {complaint.error && !c && <Notice kind="error">{complaint.error}</Notice>}
      {!c && !complaint.error && <p class="muted">Loading…</p>}
      {c && (
        <>
          <div class="page-head">
            <div>
              <h1 id="complaint-title">{c.title}</h1>
              <div class="head-meta">
                <span class="mono">{c.escalatr_id}</span>
                <Badge value={c.status} />
                <Badge value={c.escalation_level} tone="info" />
                {badges(c)}
              </div>
            </div>
            <button type="button" class="btn" onClick={onRefresh} disabled={complaint.loading}>
              Refresh
            </button>
          </div>
          {complaint.error && <Notice kind="error">{complaint.error}</Notice>}
          <div class="detail-grid">
            <div class="stack-lg">{main(c)}</div>
            <div class="stack-lg">{side(c)}</div>
          </div>
        </>
      )}
    </section>
  );
}

/** The complaint's events, oldest first. */
export function TimelineCard({ events }: { events: Async<ComplaintEvent[]> }) {
  return (
    <section class="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      {events.error ? (
        <Notice kind="error">{events.error}</Notice>
      ) : events.data ? (
        <Timeline events={events.data} />
      ) : (
        <p class="muted">Loading…</p>
      )}
    </section>
  );
}

/** One term and its value in a complaint's Details list. */
export function DetailField({ term, value, wide }: { term: string; value: ComponentChildren; wide?: boolean }) {
  return (
    <div class={wide ? 'wide' : undefined}>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </div>
  );
}
