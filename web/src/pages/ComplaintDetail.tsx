import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { FollowupsSection, MessagesSection, SettlementsSection } from '../complaint/Conversation';
import { AssignSection } from '../complaint/Assign';
import { NotesSection } from '../complaint/Notes';
import { StaffActions } from '../complaint/StaffActions';
import { Timeline } from '../complaint/Timeline';
import { Badge } from '../components/Badge';
import { Notice } from '../components/Notice';
import { formatDate, formatMoney } from '../format';
import { useAsync } from '../hooks';
import { Link } from '../router';
import { canAdmin, canWork, useSession } from '../session';
import type { ComplaintDetail, ComplaintEvent, Followup, Message, Note, SettlementOffer } from '../types';

/** Every field of one complaint, its event timeline, its conversation, and the staff steps on it. */
export function ComplaintDetailPage({ id }: { id: string }) {
  const { session } = useSession();
  const base = `/api/v1/complaints/${encodeURIComponent(id)}`;
  const complaint = useAsync(() => api.get<ComplaintDetail>(base), [base]);
  // The sub-resources load on their own, so one missing part never blanks the whole page.
  const events = useAsync(() => api.list<ComplaintEvent>(`${base}/events?limit=100`).then((p) => p.data), [base]);
  const messages = useAsync(() => api.list<Message>(`${base}/messages?limit=100`).then((p) => p.data), [base]);
  const settlements = useAsync(
    () => api.list<SettlementOffer>(`${base}/settlements?limit=100`).then((p) => p.data),
    [base],
  );
  const followups = useAsync(() => api.list<Followup>(`${base}/followups?limit=100`).then((p) => p.data), [base]);
  const notes = useAsync(() => api.list<Note>(`${base}/notes?limit=100`).then((p) => p.data), [base]);
  useEffect(() => {
    document.title = `${id} · Escalatr`;
  }, [id]);

  const refreshAll = () => {
    void complaint.reload();
    void events.reload();
    void messages.reload();
    void settlements.reload();
    void followups.reload();
    void notes.reload();
  };

  const c = complaint.data;
  const write = canWork(session);
  return (
    <section class="page" aria-labelledby="complaint-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <Link href="/complaints">Complaints</Link> <span aria-hidden="true">/</span>{' '}
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
                <Badge
                  value={`${c.priority} priority`}
                  tone={c.priority === 'critical' ? 'danger' : c.priority === 'high' ? 'warning' : 'neutral'}
                />
                {c.is_overdue && <Badge value="Overdue" tone="danger" />}
                {c.sla_paused && <Badge value="SLA paused" tone="info" />}
                {c.flagged_at && <Badge value="Flagged" tone="danger" />}
              </div>
            </div>
            <button type="button" class="btn" onClick={refreshAll} disabled={complaint.loading}>
              Refresh
            </button>
          </div>
          {complaint.error && <Notice kind="error">{complaint.error}</Notice>}
          <div class="detail-grid">
            <div class="stack-lg">
              <section class="card" aria-labelledby="fields-title">
                <h2 id="fields-title">Details</h2>
                <p class="description">{c.description}</p>
                <dl class="fields">
                  <Field term="Complaint ID" value={<span class="mono">{c.escalatr_id}</span>} />
                  <Field term="Category" value={c.complaint_category} />
                  <Field term="Status" value={c.status} />
                  <Field term="Stage" value={c.stage} />
                  <Field term="Escalation level" value={c.escalation_level} />
                  <Field term="Priority" value={c.priority} />
                  <Field term="Amount involved" value={formatMoney(c.amount_involved, c.currency)} />
                  <Field term="Currency" value={c.currency ?? '—'} />
                  <Field term="Overdue" value={c.is_overdue ? 'Yes' : 'No'} />
                  <Field
                    term="SLA due"
                    value={c.sla_paused ? 'Paused: waiting on the consumer' : formatDate(c.sla_due_at)}
                  />
                  <Field term="Filed" value={formatDate(c.created_at)} />
                  <Field term="Last updated" value={formatDate(c.updated_at)} />
                  <Field
                    term="Consumer"
                    value={
                      c.consumer ? `${c.consumer.name ?? ''}${c.consumer.name ? ' · ' : ''}${c.consumer.email}` : '—'
                    }
                  />
                  <Field term="Claimed by" value={c.claimed_by ?? '—'} />
                  <Field term="Delegated to" value={c.delegated_to ?? '—'} />
                  <Field term="Resolution type" value={c.resolution?.resolution_type ?? '—'} />
                  <Field
                    term="Amount recovered"
                    value={formatMoney(c.resolution?.amount_recovered ?? null, c.currency)}
                  />
                  <Field term="Resolution notes" value={c.resolution?.notes ?? '—'} wide />
                </dl>
              </section>
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
              <MessagesSection complaint={c} items={messages} canWrite={write} onChanged={refreshAll} />
            </div>
            <div class="stack-lg">
              {write ? (
                <StaffActions complaint={c} onChanged={refreshAll} />
              ) : (
                <Notice kind="info">You have read-only access: viewers cannot claim or answer complaints.</Notice>
              )}
              {canAdmin(session) && c.awaiting === 'company' && <AssignSection complaint={c} onChanged={refreshAll} />}
              <SettlementsSection complaint={c} items={settlements} canWrite={write} onChanged={refreshAll} />
              <FollowupsSection complaint={c} items={followups} canWrite={write} onChanged={refreshAll} />
              <NotesSection complaint={c} items={notes} canWrite={write} onChanged={() => void notes.reload()} />
            </div>
          </div>
        </>
      )}
    </section>
  );
}

function Field({ term, value, wide }: { term: string; value: ComponentChildren; wide?: boolean }) {
  return (
    <div class={wide ? 'wide' : undefined}>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </div>
  );
}
