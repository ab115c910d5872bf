import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { Toggle } from '../components/Toggle';
import { OPS_EVENTS, WEBHOOK_EVENTS } from '../catalog';
import { formatDate } from '../format';
import { useAction, useAsync } from '../hooks';
import { canAdmin, useSession } from '../session';
import type {
  Endpoint,
  OperationsSettings,
  OperationsSettingsInput,
  RecoverDryRun,
  RecoverInput,
  RecoverJob,
} from '../types';

/**
 * Settings → Operations: where alerts about the company's own webhook delivery go (endpoint failing, disabled,
 * recovered, a delivery dead), and bulk recover of failed and dead deliveries — counted by a dry run first, then
 * confirmed, with the job's progress. Owners and admins only: both change what the company's endpoints receive.
 */
export function OperationsPage() {
  const { session } = useSession();
  useEffect(() => {
    document.title = 'Operations · Escalatr';
  }, []);
  return (
    <section class="page" aria-labelledby="operations-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <span>Settings</span> <span aria-hidden="true">/</span> <span aria-current="page">Operations</span>
      </nav>
      <h1 id="operations-title">Operations</h1>
      <p class="lead">
        Escalatr tells you when a webhook endpoint has been failing for a day, a day before it would be disabled, when
        it is disabled and when it recovers, and when a delivery used up its retries ({OPS_EVENTS.join(', ')}). These
        events are in the event feed and go to endpoints that subscribe to them by name.
      </p>
      {canAdmin(session) ? (
        <>
          <OperationsAlerts />
          <BulkRecover />
        </>
      ) : (
        <Notice kind="info">Only owners and admins can manage operations alerts and recover deliveries.</Notice>
      )}
    </section>
  );
}

function OperationsAlerts() {
  const settings = useAsync(() => api.get<OperationsSettings>('/api/v1/settings/operations'), []);
  const [email, setEmail] = useState(false);
  const [slackUrl, setSlackUrl] = useState('');
  const action = useAction();
  useEffect(() => {
    if (settings.data) setEmail(settings.data.email);
  }, [settings.data]);
  const save = async (body: OperationsSettingsInput, message: string) => {
    const saved = await action.run(() => api.put<OperationsSettings>('/api/v1/settings/operations', body), message);
    if (saved) {
      setSlackUrl('');
      void settings.reload();
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const body: OperationsSettingsInput = { email };
    if (slackUrl.trim()) body.slack_url = slackUrl.trim();
    void save(body, 'Operations alerts saved.');
  };
  return (
    <section class="card" aria-labelledby="ops-alerts-title">
      <h2 id="ops-alerts-title">Operations alerts</h2>
      {settings.error && <Notice kind="error">{settings.error}</Notice>}
      {settings.data && (
        <form onSubmit={submit} noValidate>
          <Toggle label="Email owners and admins" checked={email} onChange={setEmail} states={['On', 'Off']} />
          <p class="hint" data-testid="ops-recipients">
            {settings.data.email_recipients.length
              ? `Sent to ${settings.data.email_recipients.join(', ')}`
              : 'The company has no owner or admin to email.'}
          </p>
          <TextField
            label="Slack incoming webhook"
            type="url"
            inputMode="url"
            value={slackUrl}
            onValue={setSlackUrl}
            placeholder={settings.data.slack_url ?? 'https://hooks.slack.com/services/…'}
            hint={
              settings.data.slack_url
                ? `Posting to ${settings.data.slack_url}. Enter a new URL to replace it.`
                : 'Alerts are posted to this Slack channel. Leave empty for none.'
            }
          />
          <div class="actions">
            <button type="submit" class="btn btn-primary" disabled={action.busy}>
              Save
            </button>
            {settings.data.slack_url && (
              <button
                type="button"
                class="btn"
                disabled={action.busy}
                onClick={() => void save({ slack_url: null }, 'Slack alerts removed.')}
              >
                Remove Slack
              </button>
            )}
          </div>
        </form>
      )}
      <Outcome error={action.error} success={action.success} />
    </section>
  );
}

/** A datetime-local value as an ISO time, or undefined when empty. */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

function BulkRecover() {
  const endpoints = useAsync(() => api.list<Endpoint>('/api/v1/webhooks?limit=100'), []);
  const [endpointIds, setEndpointIds] = useState<string[]>([]);
  const [events, setEvents] = useState<string[]>([]);
  const [statuses, setStatuses] = useState<Array<'failed' | 'dead'>>(['failed', 'dead']);
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [dry, setDry] = useState<RecoverDryRun | null>(null);
  const [job, setJob] = useState<RecoverJob | null>(null);
  const action = useAction();

  const filter = (): RecoverInput => ({
    endpoint_ids: endpointIds.length ? endpointIds : undefined,
    events: events.length ? (events as RecoverInput['events']) : undefined,
    statuses,
    since: isoOf(since),
    until: isoOf(until),
  });
  // A changed filter needs a new count before anything is recovered.
  useEffect(() => setDry(null), [endpointIds, events, statuses, since, until]);

  const count = () =>
    action.run(async () =>
      setDry(await api.post<RecoverDryRun>('/api/v1/deliveries/recover', { ...filter(), dry_run: true })),
    );
  const recover = async () => {
    const started = await action.run(() => api.post<RecoverJob>('/api/v1/deliveries/recover', filter()));
    if (!started) return;
    setDry(null);
    let view = started;
    setJob(view);
    while (view.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 500));
      view = await api.get<RecoverJob>(`/api/v1/deliveries/recover/${started.id}`);
      setJob(view);
    }
  };
  const toggle = <T,>(list: T[], item: T, on: boolean) => (on ? [...list, item] : list.filter((x) => x !== item));

  return (
    <section class="card" aria-labelledby="recover-title">
      <h2 id="recover-title">Bulk recover</h2>
      <p class="hint">
        Send failed and dead deliveries again, by endpoint, event, status and time. Count them first; nothing is sent
        until you confirm.
      </p>
      <fieldset class="events">
        <legend>Endpoints (none ticked: every enabled endpoint)</legend>
        <div class="check-grid">
          {(endpoints.data?.data ?? []).map((ep) => (
            <label key={ep.id} class="check">
              <input
                type="checkbox"
                checked={endpointIds.includes(ep.id)}
                disabled={!ep.enabled}
                onChange={(e) =>
                  setEndpointIds(toggle(endpointIds, ep.id, (e.currentTarget as HTMLInputElement).checked))
                }
              />
              <span class="small">{ep.description || ep.url}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset class="events">
        <legend>Events (none ticked: every event)</legend>
        <div class="check-grid">
          {WEBHOOK_EVENTS.map((ev) => (
            <label key={ev.name} class="check" title={ev.description}>
              <input
                type="checkbox"
                checked={events.includes(ev.name)}
                onChange={(e) => setEvents(toggle(events, ev.name, (e.currentTarget as HTMLInputElement).checked))}
              />
              <span class="mono small">{ev.name}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset class="events">
        <legend>Statuses</legend>
        {(['failed', 'dead'] as const).map((s) => (
          <label key={s} class="check">
            <input
              type="checkbox"
              checked={statuses.includes(s)}
              onChange={(e) => setStatuses(toggle(statuses, s, (e.currentTarget as HTMLInputElement).checked))}
            />
            {s}
          </label>
        ))}
      </fieldset>
      <div class="grid-3">
        <TextField label="Created from" type="datetime-local" value={since} onValue={setSince} />
        <TextField label="Created before" type="datetime-local" value={until} onValue={setUntil} />
      </div>
      <div class="actions">
        <button type="button" class="btn" disabled={action.busy || statuses.length === 0} onClick={() => void count()}>
          Count (dry run)
        </button>
      </div>
      {dry && (
        <div class="recover-preview" data-testid="recover-dry-run">
          <p role="status">
            <strong>{dry.count}</strong> {dry.count === 1 ? 'delivery matches' : 'deliveries match'}
            {dry.count > dry.limit ? ` — more than the ${dry.limit} one recover may send; narrow the filters.` : '.'}
          </p>
          {dry.sample.length > 0 && (
            <div class="table-wrap">
              <table class="table">
                <caption class="small">The newest of them</caption>
                <thead>
                  <tr>
                    <th scope="col">Event</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Last error</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {dry.sample.map((d) => (
                    <tr key={d.id}>
                      <td class="mono small">{d.event}</td>
                      <td>{d.status}</td>
                      <td>{d.attempt_count}</td>
                      <td class="small">{d.last_error ?? '—'}</td>
                      <td class="small">{formatDate(d.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {dry.count > 0 && dry.count <= dry.limit && (
            <button type="button" class="btn btn-primary" disabled={action.busy} onClick={() => void recover()}>
              Recover {dry.count} {dry.count === 1 ? 'delivery' : 'deliveries'}
            </button>
          )}
        </div>
      )}
      {job && (
        <p role="status" data-testid="recover-progress">
          Recover {job.status === 'running' ? 'running' : job.status}: {job.done} of {job.total} requeued
          {job.skipped ? `, ${job.skipped} skipped (being sent already)` : ''}.
        </p>
      )}
      <Outcome error={action.error} success={action.success} />
    </section>
  );
}
