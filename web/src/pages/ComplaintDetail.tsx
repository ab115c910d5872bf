import { FollowupsSection, MessagesSection, SettlementsSection } from '../complaint/Conversation';
import { AssignSection } from '../complaint/Assign';
import { ComplaintFrame, DetailField as Field, TimelineCard, useComplaintRecords } from '../complaint/ComplaintFrame';
import { NotesSection } from '../complaint/Notes';
import { StaffActions } from '../complaint/StaffActions';
import { api } from '../api';
import { Badge } from '../components/Badge';
import { Notice } from '../components/Notice';
import { formatDate, formatMoney } from '../format';
import { useAsync } from '../hooks';
import { canAdmin, canWork, useSession } from '../session';
import type { ComplaintDetail, ComplaintEvent, Followup, Message, Note, SettlementOffer } from '../types';

/** Every field of one complaint, its event timeline, its conversation, and the staff steps on it. */
export function ComplaintDetailPage({ id }: { id: string }) {
  const { session } = useSession();
  const base = `/api/v1/complaints/${encodeURIComponent(id)}`;
  const complaint = useAsync(() => api.get<ComplaintDetail>(base), [base]);
  const events = useComplaintRecords<ComplaintEvent>(base, 'events');
  const messages = useComplaintRecords<Message>(base, 'messages');
  const settlements = useComplaintRecords<SettlementOffer>(base, 'settlements');
  const followups = useComplaintRecords<Followup>(base, 'followups');
  const notes = useComplaintRecords<Note>(base, 'notes');

  const refreshAll = () => {
    void complaint.reload();
    void events.reload();
    void messages.reload();
    void settlements.reload();
    void followups.reload();
    void notes.reload();
  };

  const write = canWork(session);
  return (
    <ComplaintFrame
      id={id}
      back={{ href: '/complaints', label: 'Complaints' }}
      complaint={complaint}
      onRefresh={refreshAll}
      badges={(c) => (
        <>
          <Badge
            value={`${c.priority} priority`}
            tone={c.priority === 'critical' ? 'danger' : c.priority === 'high' ? 'warning' : 'neutral'}
          />
          {c.is_overdue && <Badge value="Overdue" tone="danger" />}
          {c.sla_paused && <Badge value="SLA paused" tone="info" />}
          {c.flagged_at && <Badge value="Flagged" tone="danger" />}
        </>
      )}
      main={(c) => (
        <>
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
                value={c.consumer ? `${c.consumer.name ?? ''}${c.consumer.name ? ' · ' : ''}${c.consumer.email}` : '—'}
              />
              <Field term="Claimed by" value={c.claimed_by ?? '—'} />
              <Field term="Delegated to" value={c.delegated_to ?? '—'} />
              <Field term="Resolution type" value={c.resolution?.resolution_type ?? '—'} />
              <Field term="Amount recovered" value={formatMoney(c.resolution?.amount_recovered ?? null, c.currency)} />
              <Field term="Resolution notes" value={c.resolution?.notes ?? '—'} wide />
            </dl>
          </section>
          <TimelineCard events={events} />
          <MessagesSection complaint={c} items={messages} canWrite={write} onChanged={refreshAll} />
        </>
      )}
      side={(c) => (
        <>
          {write ? (
            <StaffActions complaint={c} onChanged={refreshAll} />
          ) : (
            <Notice kind="info">You have read-only access: viewers cannot claim or answer complaints.</Notice>
          )}
          {canAdmin(session) && c.awaiting === 'company' && <AssignSection complaint={c} onChanged={refreshAll} />}
          <SettlementsSection complaint={c} items={settlements} canWrite={write} onChanged={refreshAll} />
          <FollowupsSection complaint={c} items={followups} canWrite={write} onChanged={refreshAll} />
          <NotesSection complaint={c} items={notes} canWrite={write} onChanged={() => void notes.reload()} />
        </>
      )}
    />
  );
}
