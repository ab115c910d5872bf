import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { api } from '../../api';
import { Timeline } from '../../complaint/Timeline';
import { Badge } from '../../components/Badge';
import { Notice } from '../../components/Notice';
import { formatDate, formatMoney } from '../../format';
import { useAsync } from '../../hooks';
import { Link } from '../../router';
import type { ComplaintDetail, ComplaintEvent, Evidence, Followup, Message, SettlementOffer } from '../../types';
import { MoreActions } from '../complaint/MoreActions';
import { NextStep } from '../complaint/NextStep';
import { EvidenceSection, FollowupsSection, MessagesSection, SettlementsSection } from '../complaint/Records';
import { complaintsPath, consumerApi } from '../session';

/** One of the consumer's complaints: where it stands, what they can do next, the conversation and the timeline. */
export function ComplaintPage({ id }: { id: string }) {
  const base = consumerApi(id);
  const complaint = useAsync(() => api.get<ComplaintDetail>(base), [base]);
  const list = <T,>(what: string) => api.list<T>(`${base}/${what}?limit=100`).then((p) => p.data);
  // Each part loads on its own, so one that fails never blanks the page.
  const events = useAsync(() => list<ComplaintEvent>('events'), [base]);
  const messages = useAsync(() => list<Message>('messages'), [base]);
  const offers = useAsync(() => list<SettlementOffer>('settlements'), [base]);
  const followups = useAsync(() => list<Followup>('followups'), [base]);
  const evidence = useAsync(() => list<Evidence>('evidence'), [base]);
  useEffect(() => {
    document.title = `${id} · Escalatr`;
  }, [id]);

  const refreshAll = () => {
    void complaint.reload();
    void events.reload();
    void messages.reload();
    void offers.reload();
    void followups.reload();
    void evidence.reload();
  };

  const c = complaint.data;
  return (
    <section class="page" aria-labelledby="complaint-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <Link href={complaintsPath}>My complaints</Link> <span aria-hidden="true">/</span>{' '}
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
                {c.company_completed && c.awaiting === 'consumer' && <Badge value="Awaiting you" tone="warning" />}
                {c.is_overdue && <Badge value="Overdue" tone="danger" />}
              </div>
            </div>
            <button type="button" class="btn" onClick={refreshAll} disabled={complaint.loading}>
              Refresh
            </button>
          </div>
          {complaint.error && <Notice kind="error">{complaint.error}</Notice>}
          <div class="detail-grid">
            <div class="stack-lg">
              <NextStep complaint={c} onChanged={refreshAll} />
              <FollowupsSection complaint={c} items={followups} onChanged={refreshAll} />
              <SettlementsSection complaint={c} items={offers} onChanged={refreshAll} />
              <MessagesSection complaint={c} items={messages} onChanged={refreshAll} />
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
            </div>
            <div class="stack-lg">
              <section class="card" aria-labelledby="fields-title">
                <h2 id="fields-title">Details</h2>
                <p class="description">{c.description}</p>
                <dl class="fields">
                  <Field term="Category" value={c.complaint_category} />
                  <Field term="Stage" value={c.stage} />
                  <Field term="Priority" value={c.priority} />
                  <Field term="Amount involved" value={formatMoney(c.amount_involved, c.currency)} />
                  <Field term="Filed" value={formatDate(c.created_at)} />
                  <Field term="Last updated" value={formatDate(c.updated_at)} />
                  {c.delegated_to && <Field term="Delegated to" value={c.delegated_to} />}
                </dl>
              </section>
              <EvidenceSection complaint={c} items={evidence} onChanged={refreshAll} />
              {c.awaiting !== null && <MoreActions complaint={c} onChanged={refreshAll} />}
            </div>
          </div>
        </>
      )}
    </section>
  );
}

function Field({ term, value }: { term: string; value: ComponentChildren }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </div>
  );
}
