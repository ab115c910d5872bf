import { api } from '../../api';
import {
  ComplaintFrame,
  DetailField as Field,
  TimelineCard,
  useComplaintRecords,
} from '../../complaint/ComplaintFrame';
import { Badge } from '../../components/Badge';
import { formatDate, formatMoney } from '../../format';
import { useAsync } from '../../hooks';
import type { ComplaintDetail, ComplaintEvent, Evidence, Followup, Message, SettlementOffer } from '../../types';
import { MoreActions } from '../complaint/MoreActions';
import { NextStep } from '../complaint/NextStep';
import { EvidenceSection, FollowupsSection, MessagesSection, SettlementsSection } from '../complaint/Records';
import { complaintsPath, consumerApi } from '../session';

/** One of the consumer's complaints: where it stands, what they can do next, the conversation and the timeline. */
export function ComplaintPage({ id }: { id: string }) {
  const base = consumerApi(id);
  const complaint = useAsync(() => api.get<ComplaintDetail>(base), [base]);
  const events = useComplaintRecords<ComplaintEvent>(base, 'events');
  const messages = useComplaintRecords<Message>(base, 'messages');
  const offers = useComplaintRecords<SettlementOffer>(base, 'settlements');
  const followups = useComplaintRecords<Followup>(base, 'followups');
  const evidence = useComplaintRecords<Evidence>(base, 'evidence');

  const refreshAll = () => {
    void complaint.reload();
    void events.reload();
    void messages.reload();
    void offers.reload();
    void followups.reload();
    void evidence.reload();
  };

  return (
    <ComplaintFrame
      id={id}
      back={{ href: complaintsPath, label: 'My complaints' }}
      complaint={complaint}
      onRefresh={refreshAll}
      badges={(c) => (
        <>
          {c.company_completed && c.awaiting === 'consumer' && <Badge value="Awaiting you" tone="warning" />}
          {c.is_overdue && <Badge value="Overdue" tone="danger" />}
        </>
      )}
      main={(c) => (
        <>
          <NextStep complaint={c} onChanged={refreshAll} />
          <FollowupsSection complaint={c} items={followups} onChanged={refreshAll} />
          <SettlementsSection complaint={c} items={offers} onChanged={refreshAll} />
          <MessagesSection complaint={c} items={messages} onChanged={refreshAll} />
          <TimelineCard events={events} />
        </>
      )}
      side={(c) => (
        <>
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
        </>
      )}
    />
  );
}
