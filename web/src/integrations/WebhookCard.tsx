import { isOperationalEvent } from '../../../src/domain/event-catalog';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { SelectField, TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { Toggle } from '../components/Toggle';
import { AUTH_METHODS, HTTPS_RULE, WEBHOOK_EVENTS } from '../catalog';
import { formatDate } from '../format';
import { useAction, useAsync } from '../hooks';
import { Link } from '../router';
import type { AuthType, CreatedEndpoint, Endpoint, EndpointConcurrency } from '../types';
import { DeliveryRules, rulesBody, rulesFormOf, rulesProblems, type RulesForm } from './DeliveryRules';
import { DeliveryPacing, pacingBody, pacingFormOf, pacingProblems, type PacingForm } from './DeliveryPacing';
import { SecretField } from './SecretField';
import {
  brokerFieldsOf,
  brokerProblems,
  brokerUrl,
  defaultPort,
  DESTINATION_TYPES,
  destinationTypeOf,
  EMPTY_BROKER,
  NAME_LABELS,
  type BrokerFields,
  type DestinationType,
} from './destination-url';

interface Form {
  enabled: boolean;
  /** HTTPS, or a message broker whose URL the fields below make. */
  type: DestinationType;
  url: string;
  broker: BrokerFields;
  description: string;
  events: string[];
  authType: AuthType;
  credential: string;
  headerName: string;
  timeoutS: string;
  rules: RulesForm;
  pacing: PacingForm;
}

/** Same scheme, host and port, as the URL parser reads them (the server's rule for keeping a credential). */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

const authOf = (e?: Endpoint): { type: AuthType; header_name: string } => ({
  type: e?.auth.type ?? 'none',
  header_name: e?.auth.header_name ?? '',
});

function formOf(e?: Endpoint): Form {
  const auth = authOf(e);
  const type = destinationTypeOf(e?.url ?? '');
  return {
    enabled: e ? e.enabled : false,
    type,
    url: type === 'https' ? (e?.url ?? '') : '',
    broker: type === 'https' ? { ...EMPTY_BROKER } : brokerFieldsOf(e!.url),
    description: e?.description ?? '',
    events: e?.events ?? ['*'],
    authType: auth.type,
    credential: '',
    headerName: auth.header_name,
    timeoutS: String(Math.round((e?.timeout_ms ?? 10_000) / 1000)),
    rules: rulesFormOf(e),
    pacing: pacingFormOf(e),
  };
}

/** The published rule is https only; a development server may let http through, and then it is only a warning. */
export function urlProblem(url: string, allowHttp: boolean): { error?: string; warning?: string } {
  const u = url.trim();
  if (!u) return { error: 'URL must be non-empty' };
  if (!/^https:\/\//i.test(u)) {
    if (allowHttp && /^http:\/\//i.test(u))
      return { warning: `${HTTPS_RULE} — this development server also accepts http://, production servers do not.` };
    return { error: HTTPS_RULE };
  }
  try {
    new URL(u);
  } catch {
    return { error: 'Enter a full URL, such as https://your-domain.com/integrations/escalatr' };
  }
  return {};
}

/** The worker's reasons for turning an endpoint off; `manual` is the user's own switch and is not flagged. */
const AUTO_DISABLE_REASONS: Record<string, string> = {
  gone: 'The endpoint answered 410 Gone, so deliveries to it were stopped',
  failing_5_days: 'Every delivery attempt failed for 5 days, so deliveries to it were stopped',
};

const CREDENTIAL_LABEL: Record<AuthType, string> = {
  none: '',
  bearer: 'Bearer token',
  api_key: 'API key',
  custom_header: 'Header value',
};

/**
 * How the workers send to this endpoint now: nothing while it is open; narrowed or probing, a notice of how many
 * attempts go at once, since when and why. Read once with the card (the workers report changes, not every attempt).
 */
function ConcurrencyNotice({ endpointId }: { endpointId: string }) {
  const c = useAsync(
    () => api.get<EndpointConcurrency>(`/api/v1/webhooks/${encodeURIComponent(endpointId)}/concurrency`),
    [endpointId],
  );
  const s = c.data;
  if (!s || s.state === 'open') return null;
  const why = s.reason ? ` after ${s.reason.replace(/^http_/, 'HTTP ').replace(/_/g, ' ')}` : '';
  const since = s.since ? ` (since ${formatDate(s.since)})` : '';
  return (
    <Notice kind="warning" title={s.state === 'probing' ? 'Receiver failing: probing' : 'Receiver slowed down'}>
      {s.state === 'probing'
        ? `Attempts failed${why}, so workers send one attempt at a time until one succeeds${since}.`
        : `Attempts failed${why}, so workers send at most ${s.limit} of ${s.cap} at a time${since}; successes widen it again.`}
    </Notice>
  );
}

interface Props {
  endpoint?: Endpoint;
  /** A secret answered by the create call, for the card of the endpoint just created. */
  initialSecret?: string;
  allowHttp: boolean;
  flash?: string | null;
  onSaved: (endpoint: Endpoint | CreatedEndpoint, message: string) => void;
  onDeleted: (endpoint: Endpoint) => void;
  onCancelNew?: () => void;
}

/**
 * The webhook card of the published set-up: an Enabled toggle that reveals the URL and Secret Key, the events,
 * authentication and timeout, Test and Save. Nothing is delivered until Save.
 */
export function WebhookCard({ endpoint, initialSecret, allowHttp, flash, onSaved, onDeleted, onCancelNew }: Props) {
  // Keyed on the values, not the object: reloading the list after another card's Save must not wipe this one.
  const endpointKey = JSON.stringify(endpoint ?? null);
  const saved = useMemo(() => formOf(endpoint), [endpointKey]);
  const [form, setForm] = useState<Form>(saved);
  const [touched, setTouched] = useState(false);
  const [showErrors, setShowErrors] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const save = useAction();
  const test = useAction();
  const del = useAction();
  const [testedId, setTestedId] = useState<string | null>(null);

  // A reload after Save brings the stored values back; the form shows exactly what the server kept.
  useEffect(() => {
    setForm(saved);
    setTouched(false);
    setShowErrors(false);
  }, [saved]);

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    save.setSuccess(null);
    save.setError(null);
  };
  const dirty = JSON.stringify(form) !== JSON.stringify(saved);
  const allEvents = form.events.includes('*');
  const savedAuth = authOf(endpoint);
  const authChanged =
    !endpoint ||
    form.authType !== savedAuth.type ||
    form.credential !== '' ||
    form.headerName !== savedAuth.header_name;

  const broker = form.type !== 'https' ? form.type : null;
  const setBroker = <K extends keyof BrokerFields>(key: K, value: BrokerFields[K]) =>
    set('broker', { ...form.broker, [key]: value });
  const targetUrl = broker ? brokerUrl(broker, form.broker) : form.url.trim();
  const url = broker ? {} : urlProblem(form.url, allowHttp);
  const brokerErrors = broker ? brokerProblems(broker, form.broker) : {};
  const errors: Partial<
    Record<'url' | 'events' | 'credential' | 'headerName' | 'timeout' | 'host' | 'port' | 'name' | 'maxLen', string>
  > = { ...brokerErrors };
  if (url.error) errors.url = url.error;
  if (form.events.length === 0) errors.events = 'Choose at least one event, or All events.';
  if (
    !broker &&
    form.authType !== 'none' &&
    authChanged &&
    !form.credential &&
    (!endpoint || form.authType !== savedAuth.type)
  ) {
    errors.credential = `Enter the ${CREDENTIAL_LABEL[form.authType].toLowerCase()} your endpoint expects.`;
  }
  // The server keeps a stored credential only for the same scheme, host and port; a move needs it typed again.
  const movedOrigin = !!endpoint && !url.error && !sameOrigin(endpoint.url, targetUrl);
  if (!broker && movedOrigin && endpoint?.has_token && form.authType !== 'none' && !form.credential) {
    errors.credential = `The URL's host changed: enter the ${CREDENTIAL_LABEL[form.authType].toLowerCase()} again.`;
  }
  if (
    !broker &&
    form.authType === 'custom_header' &&
    !/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(form.headerName.trim())
  ) {
    errors.headerName = 'Enter a header name such as X-Webhook-Token.';
  }
  const timeout = Number(form.timeoutS);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 30)
    errors.timeout = 'Choose a timeout from 1 to 30 seconds.';

  const ruleProblems = rulesProblems(form.rules);
  const paceProblems = pacingProblems(form.pacing);

  const body = () => {
    const b: Record<string, unknown> = {
      url: targetUrl,
      description: form.description.trim() || null,
      enabled: form.enabled,
      events: allEvents ? ['*'] : form.events,
      timeout_ms: timeout * 1000,
      ...rulesBody(form.rules, endpoint ? saved.rules : null),
      ...pacingBody(form.pacing, endpoint ? saved.pacing : null),
    };
    // A broker signs in with the user and password of its URL; the HTTP auth settings do not apply to it.
    if (broker) b.auth = { type: 'none' };
    else if (authChanged || movedOrigin) {
      const auth: Record<string, unknown> = { type: form.authType };
      if (form.authType !== 'none' && form.credential) auth.token = form.credential;
      if (form.authType === 'custom_header') auth.header_name = form.headerName.trim();
      b.auth = auth;
    }
    return b;
  };

  const onSave = async (e: Event) => {
    e.preventDefault();
    setShowErrors(true);
    if (!form.enabled && !endpoint && !form.url.trim() && !broker) {
      save.setError('Turn the webhook on and enter its URL before saving.');
      return;
    }
    if (Object.keys(errors).length || Object.keys(ruleProblems).length || Object.keys(paceProblems).length) {
      save.setError('Fix the highlighted fields, then save again.');
      return;
    }
    const res = await save.run(() =>
      endpoint
        ? api.patch<Endpoint>(`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}`, body())
        : api.post<CreatedEndpoint>('/api/v1/webhooks', body()),
    );
    if (res) onSaved(res, 'Webhook settings saved.');
  };

  const onTest = async () => {
    if (!endpoint) return;
    setTestedId(null);
    const res = await test.run(
      () =>
        api.post<{ id?: string; delivery_id?: string }>(`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}/test`, {
          message: 'Test event from the Escalatr dashboard',
        }),
      'Test event sent.',
    );
    if (res) setTestedId(res.delivery_id ?? res.id ?? '');
  };

  const toggleEvent = (name: string, on: boolean) => {
    const ops = form.events.filter(isOperationalEvent);
    if (name === '*') return set('events', on ? ['*', ...ops] : ops);
    // Operational events are picked by name beside "*", which does not include them.
    const keep = isOperationalEvent(name) ? form.events : form.events.filter((x) => x !== '*');
    set('events', on ? [...keep, name] : form.events.filter((x) => x !== name));
  };

  const title = endpoint ? endpoint.description || endpoint.url : 'New webhook';
  const cardId = endpoint?.id ?? 'new';
  const fieldErr = (k: keyof typeof errors) => (showErrors || (k === 'url' && touched) ? errors[k] : undefined);

  return (
    <section class="card webhook-card" aria-labelledby={`wh-title-${cardId}`}>
      <div class="card-head">
        <div>
          <h3 id={`wh-title-${cardId}`}>{title}</h3>
          {endpoint && <div class="muted small mono">{endpoint.url}</div>}
        </div>
        {endpoint && (
          <span>
            {endpoint.development && <span class="badge badge-neutral">Development</span>}{' '}
            <span class={`badge ${endpoint.enabled ? 'badge-success' : 'badge-neutral'}`}>
              {endpoint.enabled ? 'Enabled' : 'Disabled'}
            </span>
          </span>
        )}
      </div>
      {endpoint?.development && (
        <Notice kind="info" title="Development endpoint">
          Made by <code>escalatr listen</code>: its deliveries go over the listener's connection to {endpoint.url} on
          the developer's machine. It is removed when the listener stops, or after an hour without one.
        </Notice>
      )}
      {endpoint?.disabled_reason && endpoint.disabled_reason !== 'manual' && (
        <Notice kind="warning" title="Automatically disabled">
          {AUTO_DISABLE_REASONS[endpoint.disabled_reason] ?? endpoint.disabled_reason}
          {endpoint.disabled_at ? ` (${formatDate(endpoint.disabled_at)})` : ''}. Fix the receiver, then turn the
          webhook on and save to resume deliveries.
        </Notice>
      )}
      {endpoint?.enabled && <ConcurrencyNotice endpointId={endpoint.id} />}
      <form onSubmit={onSave} noValidate>
        <fieldset class="bare">
          <Toggle label="Webhook" checked={form.enabled} onChange={(v) => set('enabled', v)} />
          {!form.enabled && (
            <p class="muted small">
              The webhook is off: no events are delivered to it. Turn it on to set its URL and secret key.
            </p>
          )}
          {form.enabled && (
            <div class="stack">
              <SelectField
                label="Destination"
                value={form.type}
                onValue={(v) => set('type', v as DestinationType)}
                options={DESTINATION_TYPES}
                hint="An HTTPS endpoint, or a message broker your systems already read from."
              />
              {broker && (
                <div class="grid-3">
                  <TextField
                    label="Host"
                    value={form.broker.host}
                    onValue={(v) => setBroker('host', v)}
                    error={fieldErr('host')}
                    placeholder="broker.your-domain.com"
                    maxLength={255}
                  />
                  <TextField
                    label="Port"
                    inputMode="numeric"
                    value={form.broker.port}
                    onValue={(v) => setBroker('port', v)}
                    error={fieldErr('port')}
                    placeholder={defaultPort(broker, form.broker.tls)}
                    maxLength={5}
                  />
                  <TextField
                    label={NAME_LABELS[broker].label}
                    value={form.broker.name}
                    onValue={(v) => setBroker('name', v)}
                    error={fieldErr('name')}
                    placeholder={NAME_LABELS[broker].placeholder}
                    maxLength={1000}
                  />
                  {broker === 'amqp' && (
                    <TextField
                      label="Routing key"
                      value={form.broker.routingKey}
                      onValue={(v) => setBroker('routingKey', v)}
                      maxLength={255}
                    />
                  )}
                  {broker === 'amqp' && (
                    <TextField
                      label="Virtual host"
                      value={form.broker.vhost}
                      onValue={(v) => setBroker('vhost', v)}
                      placeholder="/"
                      maxLength={255}
                    />
                  )}
                  {broker === 'redis' && (
                    <TextField
                      label="Max length"
                      inputMode="numeric"
                      value={form.broker.maxLen}
                      onValue={(v) => setBroker('maxLen', v)}
                      error={fieldErr('maxLen')}
                      placeholder="10000"
                      hint="The stream is trimmed to about this many entries."
                      maxLength={8}
                    />
                  )}
                  <TextField
                    label="User name"
                    autoComplete="off"
                    value={form.broker.username}
                    onValue={(v) => setBroker('username', v)}
                    maxLength={255}
                  />
                  <TextField
                    label="Password"
                    type="password"
                    autoComplete="off"
                    value={form.broker.password}
                    onValue={(v) => setBroker('password', v)}
                    hint={
                      endpoint?.has_url_password
                        ? 'Saved and encrypted. Leave empty to keep it for the same host and port.'
                        : 'Stored encrypted.'
                    }
                    maxLength={1000}
                  />
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={form.broker.tls}
                      onChange={(e) => setBroker('tls', (e.currentTarget as HTMLInputElement).checked)}
                    />
                    TLS (encrypted; the broker's certificate is verified)
                  </label>
                </div>
              )}
              {!broker && (
                <TextField
                  label="Webhook URL"
                  type="url"
                  inputMode="url"
                  placeholder="https://your-domain.com/integrations/escalatr"
                  value={form.url}
                  onValue={(v) => set('url', v)}
                  onBlur={() => setTouched(true)}
                  error={fieldErr('url')}
                  warning={url.warning}
                  hint="Escalatr POSTs each event here as JSON. Use a production HTTPS endpoint that is reachable from the internet."
                  maxLength={2000}
                />
              )}
              {endpoint ? (
                <SecretField
                  secretPath={`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}/secret`}
                  fieldId={endpoint.id}
                  initial={initialSecret}
                />
              ) : (
                <div class="field">
                  <span class="label">Secret Key</span>
                  <p class="hint">
                    A signing secret (whsec_…) is generated when you save. You can then reveal, copy and regenerate it
                    here.
                  </p>
                </div>
              )}
              <TextField
                label="Description"
                value={form.description}
                onValue={(v) => set('description', v)}
                maxLength={500}
                placeholder="Helpdesk escalations"
              />
              <fieldset
                class="events"
                aria-describedby={errors.events && showErrors ? `events-err-${cardId}` : undefined}
              >
                <legend>Events</legend>
                <label class="check strong">
                  <input
                    type="checkbox"
                    checked={allEvents}
                    onChange={(e) => toggleEvent('*', (e.currentTarget as HTMLInputElement).checked)}
                  />
                  All events, including ones added later (operational events are picked by name)
                </label>
                <div class="check-grid">
                  {WEBHOOK_EVENTS.map((ev) => (
                    <label key={ev.name} class="check" title={ev.description}>
                      <input
                        type="checkbox"
                        checked={(allEvents && !ev.operational) || form.events.includes(ev.name)}
                        disabled={allEvents && !ev.operational}
                        onChange={(e) => toggleEvent(ev.name, (e.currentTarget as HTMLInputElement).checked)}
                      />
                      <span class="mono small">{ev.name}</span>
                    </label>
                  ))}
                </div>
                {errors.events && showErrors && (
                  <p class="field-error" id={`events-err-${cardId}`} role="alert">
                    {errors.events}
                  </p>
                )}
              </fieldset>
              <div class="grid-3">
                {!broker && (
                  <SelectField
                    label="Authentication"
                    value={form.authType}
                    onValue={(v) => set('authType', v as AuthType)}
                    options={AUTH_METHODS}
                  />
                )}
                {!broker && form.authType === 'custom_header' && (
                  <TextField
                    label="Header name"
                    value={form.headerName}
                    onValue={(v) => set('headerName', v)}
                    error={fieldErr('headerName')}
                    placeholder="X-Webhook-Token"
                    maxLength={100}
                  />
                )}
                {!broker && form.authType !== 'none' && (
                  <TextField
                    label={CREDENTIAL_LABEL[form.authType]}
                    type="password"
                    autoComplete="off"
                    value={form.credential}
                    onValue={(v) => set('credential', v)}
                    error={fieldErr('credential')}
                    hint={
                      endpoint && form.authType === savedAuth.type && endpoint.has_token !== false
                        ? 'Saved and encrypted. Leave empty to keep it.'
                        : 'Stored encrypted.'
                    }
                    maxLength={2000}
                  />
                )}
                <TextField
                  label="Timeout (seconds)"
                  type="number"
                  min="1"
                  max="30"
                  step="1"
                  value={form.timeoutS}
                  onValue={(v) => set('timeoutS', v)}
                  error={fieldErr('timeout')}
                  hint={
                    broker
                      ? "The broker's acknowledgement within this time counts as delivered."
                      : 'A 2xx within this time counts as delivered.'
                  }
                />
              </div>
              <DeliveryRules
                cardId={cardId}
                value={form.rules}
                onChange={(rules) => set('rules', rules)}
                problems={ruleProblems}
                showErrors={showErrors}
              />
              <DeliveryPacing
                cardId={cardId}
                value={form.pacing}
                onChange={(pacing) => set('pacing', pacing)}
                problems={paceProblems}
                showErrors={showErrors}
                heldUntil={endpoint?.held_until ?? null}
              />
            </div>
          )}
        </fieldset>
        <div class="card-actions">
          <div class="btn-row">
            <button type="submit" class="btn btn-primary" disabled={save.busy}>
              {save.busy ? 'Saving…' : 'Save'}
            </button>
            {endpoint && (
              <button
                type="button"
                class="btn"
                onClick={onTest}
                disabled={test.busy || dirty || !endpoint.enabled}
                title={dirty ? 'Save your changes before testing' : undefined}
              >
                Test
              </button>
            )}
            {!endpoint && onCancelNew && (
              <button type="button" class="btn btn-quiet" onClick={onCancelNew}>
                Cancel
              </button>
            )}
          </div>
          {endpoint && (
            <button type="button" class="btn btn-danger-quiet" onClick={() => setDeleting(true)}>
              Delete
            </button>
          )}
        </div>
        {endpoint && dirty && (
          <p class="muted small">You have unsaved changes. Nothing changes for deliveries until you save.</p>
        )}
        {endpoint && !endpoint.enabled && !dirty && (
          <p class="muted small">Turn the webhook on and save before sending a test.</p>
        )}
        <Outcome error={save.error} success={save.success ?? (dirty ? null : flash)} />
        <Outcome error={test.error} />
        {test.success && (
          <Notice kind="success">
            {test.success} It appears in{' '}
            <Link href={`/settings/integrations/deliveries?endpoint_id=${encodeURIComponent(endpoint!.id)}`}>
              Deliveries
            </Link>
            {testedId ? (
              <>
                {' '}
                as <span class="mono">{testedId}</span>
              </>
            ) : null}
            .
          </Notice>
        )}
      </form>
      {endpoint && (
        <ConfirmDialog
          open={deleting}
          title="Delete this webhook?"
          confirmLabel="Delete webhook"
          danger
          busy={del.busy}
          error={del.error}
          onCancel={() => setDeleting(false)}
          onConfirm={async () => {
            if ((await del.run(() => api.del(`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}`))) !== undefined) {
              setDeleting(false);
              onDeleted(endpoint);
            }
          }}
        >
          <p>
            Deliveries to <span class="mono">{endpoint.url}</span> stop at once. Its delivery history stays in
            Deliveries.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
