import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge } from '../components/Badge';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Notice, Outcome } from '../components/Notice';
import { Pagination } from '../components/Pagination';
import { Toggle } from '../components/Toggle';
import { capitalise, formatDate } from '../format';
import { useAction, useAsync } from '../hooks';
import { feedbackRecordPath, Link } from '../router';
import { canAdmin, useSession } from '../session';
import type { Automation, Destination, Feedback } from '../types';
import { AutomationForm } from './AutomationForm';

const TYPE_LABELS: Record<Destination['type'], string> = {
  webhook: 'Webhook',
  slack: 'Slack',
  email: 'Email',
  broker: 'Broker',
};
const describeDestination = (d: Destination) =>
  d.type === 'email' ? `Email ${d.to.join(', ')}` : `${TYPE_LABELS[d.type]} ${d.url}`;

/** Settings → Integrations → Escalation Shield: automations that alert on risky feedback, and the scored feedback. */
export function ShieldTab() {
  const { session } = useSession();
  const admin = canAdmin(session);
  const allowHttp = Boolean(session.server?.allow_http_webhooks);
  const automations = useAsync(() => api.list<Automation>('/api/v1/automations?limit=100').then((p) => p.data), []);
  const [editing, setEditing] = useState<Automation | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Automation | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const toggle = useAction();
  const del = useAction();

  const setActive = async (a: Automation, active: boolean) => {
    setMessage(null);
    const res = await toggle.run(
      () => api.patch<Automation>(`/api/v1/automations/${encodeURIComponent(a.id)}`, { active }),
      `“${a.name}” ${active ? 'activated' : 'paused'}.`,
    );
    if (res) void automations.reload();
  };

  return (
    <div class="stack-lg">
      <div class="section-head">
        <div>
          <h2>Automations</h2>
          <p class="lead">
            Incoming customer feedback is scored for escalation risk. An active automation sends an alert to its
            destinations when a record meets its filter.
          </p>
        </div>
        {admin && editing === null && (
          <button type="button" class="btn btn-primary" onClick={() => setEditing('new')}>
            New automation
          </button>
        )}
      </div>
      {message && <Notice kind="success">{message}</Notice>}
      <Outcome error={toggle.error} success={toggle.success} />
      {editing !== null && (
        <AutomationForm
          automation={editing === 'new' ? undefined : editing}
          allowHttp={allowHttp}
          onCancel={() => setEditing(null)}
          onSaved={(_a, text) => {
            setEditing(null);
            setMessage(text);
            void automations.reload();
          }}
        />
      )}
      {automations.error && <Notice kind="error">{automations.error}</Notice>}
      {automations.data?.length === 0 && editing === null && <p class="muted">No automations yet.</p>}
      <ul class="automation-list">
        {automations.data?.map((a) => (
          <li key={a.id} class="card automation">
            <div class="card-head">
              <div>
                <h3>{a.name}</h3>
                <div class="muted small">
                  Level {capitalise(a.filter.min_level)} or above
                  {a.filter.sources?.length ? ` · sources: ${a.filter.sources.join(', ')}` : ' · all sources'}
                  {a.filter.keywords?.length ? ` · keywords: ${a.filter.keywords.join(', ')}` : ''}
                </div>
              </div>
              {admin ? (
                <Toggle
                  label="Active"
                  srLabel={`Active: ${a.name}`}
                  checked={a.active}
                  onChange={(v) => setActive(a, v)}
                  disabled={toggle.busy}
                  states={['On', 'Paused']}
                />
              ) : (
                <Badge value={a.active ? 'Active' : 'Paused'} tone={a.active ? 'success' : 'neutral'} />
              )}
            </div>
            <ul class="plain-list small">
              {a.destinations.map((d, i) => (
                <li key={d.id ?? i} class="mono">
                  {describeDestination(d)}
                </li>
              ))}
            </ul>
            {admin && (
              <div class="btn-row">
                <button
                  type="button"
                  class="btn"
                  onClick={() => setEditing(a)}
                  aria-label={`Edit automation ${a.name}`}
                >
                  Edit
                </button>
                <button
                  type="button"
                  class="btn btn-danger-quiet"
                  onClick={() => setDeleting(a)}
                  aria-label={`Delete automation ${a.name}`}
                >
                  Delete
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
      <FeedbackTable />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete automation"
        danger
        busy={del.busy}
        error={del.error}
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          const a = deleting!;
          if ((await del.run(() => api.del(`/api/v1/automations/${encodeURIComponent(a.id)}`))) !== undefined) {
            setDeleting(null);
            setMessage(`“${a.name}” deleted.`);
            void automations.reload();
          }
        }}
      >
        <p>No further alerts are sent for it. Alerts already queued are still delivered.</p>
      </ConfirmDialog>
    </div>
  );
}

function FeedbackTable() {
  const [page, setPage] = useState(1);
  const feedback = useAsync(() => api.list<Feedback>(`/api/v1/feedback?page=${page}&limit=20`), [page]);
  return (
    <section class="card flush" aria-labelledby="feedback-title">
      <div class="card-head card-title-pad">
        <h2 id="feedback-title">Scored feedback</h2>
        <button type="button" class="btn" onClick={() => feedback.reload()} disabled={feedback.loading}>
          Refresh
        </button>
      </div>
      {feedback.error && <Notice kind="error">{feedback.error}</Notice>}
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Source</th>
              <th scope="col">Feedback</th>
              <th scope="col">Escalation</th>
              <th scope="col">Intensity</th>
              <th scope="col">Sentiment shift</th>
            </tr>
          </thead>
          <tbody>
            {feedback.data?.data.map((r) => (
              <tr key={r.id}>
                <td class="nowrap">{formatDate(r.received_at)}</td>
                <td>
                  {r.source_url ? (
                    <a href={r.source_url} target="_blank" rel="noopener noreferrer">
                      {r.source}
                    </a>
                  ) : (
                    r.source
                  )}
                  <div class="small">
                    <Link href={feedbackRecordPath(r.id)} class="mono" aria-label={`Open feedback record ${r.id}`}>
                      {r.id}
                    </Link>
                  </div>
                </td>
                <td class="excerpt-cell">
                  {r.content.length > 220 ? `${r.content.slice(0, 220)}…` : r.content}
                  {r.cues && r.cues.length > 0 && (
                    <div class="muted small">Cues: {r.cues.map((c) => c.replace(/_/g, ' ')).join(', ')}</div>
                  )}
                </td>
                <td>{r.levels ? <Badge value={r.levels.escalation_level} /> : <span class="muted">Scoring…</span>}</td>
                <td>
                  {r.levels?.emotional_intensity_level ? <Badge value={r.levels.emotional_intensity_level} /> : '—'}
                </td>
                <td class="small">{r.levels?.sentiment_shift ?? '—'}</td>
              </tr>
            ))}
            {feedback.data?.data.length === 0 && (
              <tr>
                <td colSpan={6} class="empty">
                  No feedback received yet. Send records to <code>POST /api/v1/feedback</code> or import a file with{' '}
                  <code>escalatr shield import</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {feedback.data && (
        <Pagination
          label="Feedback"
          page={feedback.data.page}
          limit={feedback.data.limit}
          total={feedback.data.total}
          totalExact={feedback.data.totalExact}
          onPage={setPage}
        />
      )}
    </section>
  );
}
