import { formatDate, formatMoney, humanEvent } from '../format';
import type { ComplaintEvent } from '../types';

const BASE_FIELDS = new Set(['escalatr_id', 'status', 'escalation_level']);

const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** One line that says what happened, in words, from the event's data. */
function summary(e: ComplaintEvent): string {
  const d = e.data ?? {};
  switch (e.event) {
    case 'complaint.created':
      return `Filed as ${str(d.complaint_category)}, ${str(d.priority)} priority`;
    case 'complaint.escalated':
      return `Escalated to ${str(d.to_level)} (${str(d.trigger).replace(/_/g, ' ')})`;
    case 'complaint.claimed':
      return `Claimed by ${str(d.claimed_by)}`;
    case 'complaint.assigned':
      return `Assigned to ${str(d.assigned_to)} by ${str(d.assigned_by)}${d.previous_assignee ? ` (was ${str(d.previous_assignee)})` : ''}`;
    case 'complaint.released':
      return `Released by ${str(d.released_by)}`;
    case 'complaint.completed':
      return `Completed: “${str(d.resolution_notes)}”`;
    case 'complaint.resolved':
      return `Resolved by the consumer (${str(d.resolution_type)}${d.amount_recovered != null ? `, ${formatMoney(Number(d.amount_recovered), null)} recovered` : ''})`;
    case 'complaint.withdrawn':
      return `Withdrawn by the consumer (${str(d.reason_code)})`;
    case 'complaint.delegated':
      return `Delegated to ${str(d.to_email)}${d.immediate_transfer ? ', immediate transfer' : ''}`;
    case 'settlement.responded':
      return `Consumer ${str(d.action) === 'accept' ? 'accepted' : str(d.action) === 'reject' ? 'rejected' : 'countered'} a settlement offer`;
    case 'message.new':
      return d.author_kind === 'staff'
        ? 'Staff replied'
        : `New message from the consumer${d.directed_to ? ` to ${str(d.directed_to)}` : ''}`;
    case 'evidence.uploaded':
      return `Evidence uploaded: ${str(d.file_name)}`;
    case 'complaint.sla_warning':
      return `SLA warning: ${Math.round(Number(d.fraction) * 100)}% of the ${str(d.level)} window used (due ${formatDate(str(d.due_at))})`;
    case 'complaint.sla_breached':
      return `SLA breached: the ${str(d.level)} window passed (due ${formatDate(str(d.due_at))})`;
    case 'complaint.flagged':
      return `Flagged by the breach rule after the ${str(d.level)} window was breached`;
    case 'followup.replied':
      return d.all_answered ? 'Follow-up answered (all answered)' : 'Follow-up answered';
    default: {
      const extra = Object.entries(d).filter(([k]) => !BASE_FIELDS.has(k));
      return extra.length
        ? extra
            .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : str(v)}`)
            .join(' · ')
        : humanEvent(e.event);
    }
  }
}

/** The complaint's events, oldest first, as the consumer and staff produced them. */
export function Timeline({ events }: { events: ComplaintEvent[] }) {
  const ordered = [...events].sort((a, b) => new Date(a.timestamp).getTime() - new Date(b.timestamp).getTime());
  if (ordered.length === 0) return <p class="muted">No events yet.</p>;
  return (
    <ol class="timeline">
      {ordered.map((e) => (
        <li key={e.id} class="timeline-item">
          <span class="timeline-dot" aria-hidden="true" />
          <div class="timeline-body">
            <div class="timeline-head">
              <span class="mono small">{e.event}</span>
              <time dateTime={e.timestamp} class="muted small">
                {formatDate(e.timestamp, { seconds: true })}
              </time>
            </div>
            <p>{summary(e)}</p>
            <div class="muted small">
              {str(e.data?.status)} · {str(e.data?.escalation_level)}
            </div>
          </div>
        </li>
      ))}
    </ol>
  );
}
