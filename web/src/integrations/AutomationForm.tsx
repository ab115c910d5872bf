import { useState } from 'preact/hooks';
import { api } from '../api';
import { SelectField, TextField } from '../components/Field';
import { Outcome } from '../components/Notice';
import { Toggle } from '../components/Toggle';
import { AUTH_METHODS, SHIELD_LEVELS } from '../catalog';
import { capitalise } from '../format';
import { useAction, useAsync } from '../hooks';
import type { Automation, AuthType, Destination } from '../types';
import { SecretField } from './SecretField';
import { sameOrigin, urlProblem } from './WebhookCard';

/** One destination row as edited: every type's fields, only the chosen type's are sent. */
interface DestinationDraft {
  key: number;
  id?: string;
  type: 'webhook' | 'slack' | 'email' | 'broker';
  url: string;
  to: string;
  authType: AuthType;
  credential: string;
  headerName: string;
  timeoutS: string;
  /** An existing webhook destination's credential is stored encrypted and never shown. */
  savedAuthType?: AuthType;
  savedHeaderName?: string;
  /** As loaded: a Slack URL comes back masked, so it is sent again only if the user typed a new one. */
  savedUrl?: string;
  /** A broker URL comes back without its password; the stored one is kept for the same host and port. */
  hasUrlPassword?: boolean;
}

const BROKER_SCHEME = /^(amqps?|nats|tls|rediss?|mqtts?):\/\//i;

let nextKey = 1;
const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function draftOf(d: Destination): DestinationDraft {
  const base = {
    key: nextKey++,
    id: d.id,
    url: '',
    to: '',
    authType: 'none' as AuthType,
    credential: '',
    headerName: '',
    timeoutS: '5',
  };
  if (d.type === 'email') return { ...base, type: 'email', to: d.to.join(', ') };
  if (d.type === 'slack') return { ...base, type: 'slack', url: d.url, savedUrl: d.url };
  if (d.type === 'broker')
    return {
      ...base,
      type: 'broker',
      url: d.url,
      savedUrl: d.url,
      hasUrlPassword: d.has_url_password,
      timeoutS: String(Math.round(d.timeout_ms / 1000)),
    };
  const auth = d.auth?.type ?? 'none';
  const headerName = d.auth?.header_name ?? '';
  return {
    ...base,
    type: 'webhook',
    url: d.url,
    savedUrl: d.url,
    authType: auth,
    savedAuthType: auth,
    headerName,
    savedHeaderName: headerName,
    timeoutS: String(Math.round((d.timeout_ms ?? 5000) / 1000)),
  };
}

const emptyDraft = (): DestinationDraft => ({
  key: nextKey++,
  type: 'webhook',
  url: '',
  to: '',
  authType: 'none',
  credential: '',
  headerName: '',
  timeoutS: '5',
});

function destinationErrors(d: DestinationDraft, allowHttp: boolean): Record<string, string> {
  const e: Record<string, string> = {};
  if (d.type === 'email') {
    const to = splitList(d.to);
    if (to.length === 0 || to.some((x) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(x)))
      e.to = 'Enter one or more email addresses, separated by commas.';
    return e;
  }
  const timeout = Number(d.timeoutS);
  const timeoutError = !Number.isInteger(timeout) || timeout < 1 || timeout > 30 ? 'From 1 to 30 seconds.' : null;
  if (d.type === 'broker') {
    if (!BROKER_SCHEME.test(d.url.trim()))
      e.url =
        'Enter an amqp(s)://, nats:// (tls:// over TLS), redis(s):// or mqtt(s):// URL naming the exchange, subject, stream or topic.';
    if (timeoutError) e.timeout = timeoutError;
    return e;
  }
  const unchangedSlack = d.type === 'slack' && d.id && d.url === d.savedUrl;
  const url = urlProblem(d.url, allowHttp);
  if (url.error && !unchangedSlack) e.url = url.error;
  if (d.type === 'webhook') {
    const changed = d.authType !== d.savedAuthType;
    if (d.authType !== 'none' && !d.credential && (changed || !d.id))
      e.credential = 'Enter the credential your endpoint expects.';
    // The server keeps a stored credential only for the same scheme, host and port; a move needs it typed again.
    else if (
      d.id &&
      d.savedAuthType !== 'none' &&
      d.authType !== 'none' &&
      !d.credential &&
      !sameOrigin(d.savedUrl ?? '', d.url.trim())
    )
      e.credential = "The URL's host changed: enter the credential again.";
    if (d.authType === 'custom_header' && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(d.headerName.trim()))
      e.headerName = 'Enter a header name.';
    if (timeoutError) e.timeout = timeoutError;
  }
  return e;
}

function destinationBody(d: DestinationDraft): Record<string, unknown> {
  const id = d.id ? { id: d.id } : {};
  if (d.type === 'email') return { ...id, type: 'email', to: splitList(d.to) };
  // An existing destination keeps what is not sent: the unmasked Slack URL, the stored credential.
  if (d.type === 'slack')
    return d.id && d.url === d.savedUrl ? { ...id, type: 'slack' } : { ...id, type: 'slack', url: d.url.trim() };
  if (d.type === 'broker') return { ...id, type: 'broker', url: d.url.trim(), timeout_ms: Number(d.timeoutS) * 1000 };
  const body: Record<string, unknown> = {
    ...id,
    type: 'webhook',
    url: d.url.trim(),
    timeout_ms: Number(d.timeoutS) * 1000,
  };
  const authUnchanged =
    d.id && d.authType === d.savedAuthType && !d.credential && d.headerName === (d.savedHeaderName ?? '');
  if (!authUnchanged) {
    const auth: Record<string, unknown> = { type: d.authType };
    if (d.authType !== 'none' && d.credential) auth.token = d.credential;
    if (d.authType === 'custom_header') auth.header_name = d.headerName.trim();
    body.auth = auth;
  }
  return body;
}

type Sensitivity = Automation['sensitivity'];
interface SensitivityFigures {
  sensitivity: Sensitivity;
  precision: number;
  recall: number;
}

const SENSITIVITY_WORDS: Record<Sensitivity, string> = {
  conservative: 'fewer, surer alerts',
  balanced: 'the default',
  sensitive: 'more alerts, fewer misses',
};

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** The option label: what the sensitivity means and, once loaded, what it was measured to give. */
function sensitivityLabel(s: Sensitivity, figures: SensitivityFigures[] | undefined): string {
  const f = figures?.find((x) => x.sensitivity === s);
  const base = `${capitalise(s)} (${SENSITIVITY_WORDS[s]})`;
  return f ? `${base}: precision ${pct(f.precision)}, recall ${pct(f.recall)}` : base;
}

interface Props {
  automation?: Automation;
  allowHttp: boolean;
  onSaved: (a: Automation, message: string) => void;
  onCancel: () => void;
}

/** Create or edit an Escalation Shield automation: its filter and where alerts go (webhook, Slack, email, broker). */
export function AutomationForm({ automation, allowHttp, onSaved, onCancel }: Props) {
  const [name, setName] = useState(automation?.name ?? '');
  const [active, setActive] = useState(automation?.active ?? true);
  const [minLevel, setMinLevel] = useState<string>(automation?.filter.min_level ?? 'high');
  const [sensitivity, setSensitivity] = useState<Sensitivity>(automation?.sensitivity ?? 'balanced');
  const figures = useAsync(() => api.get<SensitivityFigures[]>('/api/v1/automations/sensitivities'), []);
  const [sources, setSources] = useState((automation?.filter.sources ?? []).join(', '));
  const [keywords, setKeywords] = useState((automation?.filter.keywords ?? []).join(', '));
  const [destinations, setDestinations] = useState<DestinationDraft[]>(
    automation ? automation.destinations.map(draftOf) : [emptyDraft()],
  );
  const [showErrors, setShowErrors] = useState(false);
  const save = useAction();

  const update = (key: number, patch: Partial<DestinationDraft>) =>
    setDestinations((ds) => ds.map((d) => (d.key === key ? { ...d, ...patch } : d)));
  const destErrors = destinations.map((d) => destinationErrors(d, allowHttp));
  const nameError = name.trim() ? null : 'Name the automation.';
  const listError = destinations.length === 0 ? 'Add at least one destination.' : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    setShowErrors(true);
    if (nameError || listError || destErrors.some((x) => Object.keys(x).length)) {
      save.setError('Fix the highlighted fields, then save again.');
      return;
    }
    const body = {
      name: name.trim(),
      active,
      sensitivity,
      filter: { min_level: minLevel, sources: splitList(sources), keywords: splitList(keywords) },
      destinations: destinations.map(destinationBody),
    };
    const res = await save.run(() =>
      automation
        ? api.patch<Automation>(`/api/v1/automations/${encodeURIComponent(automation.id)}`, body)
        : api.post<Automation>('/api/v1/automations', body),
    );
    if (res) onSaved(res, automation ? 'Automation saved.' : 'Automation created.');
  };

  const err = (i: number, k: string) => (showErrors ? destErrors[i][k] : undefined);
  return (
    <section class="card" aria-labelledby="automation-form-title">
      <h3 id="automation-form-title">{automation ? `Edit “${automation.name}”` : 'New automation'}</h3>
      <form onSubmit={submit} noValidate class="stack">
        <div class="grid-2">
          <TextField
            label="Name"
            value={name}
            onValue={setName}
            maxLength={200}
            error={showErrors ? nameError : null}
            placeholder="Legal threats to on-call"
          />
        </div>
        <Toggle label="Active" checked={active} onChange={setActive} states={['On', 'Paused']} />
        <fieldset class="bare">
          <legend class="legend-title">Filter</legend>
          <div class="grid-3">
            <SelectField
              label="Minimum escalation level"
              value={minLevel}
              onValue={setMinLevel}
              options={SHIELD_LEVELS.map((l) => ({ value: l, label: capitalise(l) }))}
              hint="Alert when feedback scores at this level or above."
            />
            <SelectField
              label="Sensitivity"
              value={sensitivity}
              onValue={(v) => setSensitivity(v as Sensitivity)}
              options={(['conservative', 'balanced', 'sensitive'] as const).map((s) => ({
                value: s,
                label: sensitivityLabel(s, figures.data),
              }))}
              hint="Precision and recall for escalation high or above, measured on labelled feedback the model never saw."
              class="span-2"
            />
            <TextField
              label="Sources"
              value={sources}
              onValue={setSources}
              placeholder="ZendeskSupport, Intercom"
              hint="Comma-separated; empty means every source."
            />
            <TextField
              label="Keywords"
              value={keywords}
              onValue={setKeywords}
              placeholder="refund, lawyer"
              hint="Comma-separated; empty means any content."
            />
          </div>
        </fieldset>
        <fieldset class="bare">
          <legend class="legend-title">Destinations</legend>
          {destinations.map((d, i) => (
            <div key={d.key} class="destination">
              <div class="grid-3">
                <SelectField
                  label={`Destination ${i + 1} type`}
                  disabled={Boolean(d.id)}
                  hint={d.id ? 'To change the type, remove this destination and add a new one.' : undefined}
                  value={d.type}
                  onValue={(v) => update(d.key, { type: v as DestinationDraft['type'] })}
                  options={[
                    { value: 'webhook', label: 'Webhook' },
                    { value: 'slack', label: 'Slack' },
                    { value: 'email', label: 'Email' },
                    { value: 'broker', label: 'Message broker' },
                  ]}
                />
                {d.type === 'email' ? (
                  <TextField
                    label="Send to"
                    value={d.to}
                    onValue={(v) => update(d.key, { to: v })}
                    error={err(i, 'to')}
                    placeholder="oncall@your-company.com"
                    class="span-2"
                  />
                ) : d.type === 'broker' ? (
                  <TextField
                    label="Broker URL"
                    autoComplete="off"
                    value={d.url}
                    onValue={(v) => update(d.key, { url: v })}
                    error={err(i, 'url')}
                    placeholder="amqp://user:password@broker.your-domain.com:5672/exchange?routing_key=alerts"
                    hint={
                      d.hasUrlPassword
                        ? 'The scheme picks the broker. The saved password is encrypted and not shown: leave it out to keep it for the same host and port.'
                        : 'The scheme picks the broker: amqp://, nats://, redis:// or mqtt://, or amqps://, tls:// (NATS), rediss:// or mqtts:// over TLS. A password in the URL is stored encrypted.'
                    }
                    class="span-2"
                  />
                ) : (
                  <TextField
                    label={d.type === 'slack' ? 'Slack incoming-webhook URL' : 'Webhook URL'}
                    type="url"
                    value={d.url}
                    onValue={(v) => update(d.key, { url: v })}
                    error={err(i, 'url')}
                    warning={urlProblem(d.url, allowHttp).warning}
                    placeholder={
                      d.type === 'slack' ? 'https://hooks.slack.com/services/…' : 'https://your-domain.com/shield'
                    }
                    class="span-2"
                  />
                )}
              </div>
              {d.type === 'webhook' && (
                <div class="grid-3">
                  <SelectField
                    label="Authentication"
                    value={d.authType}
                    onValue={(v) => update(d.key, { authType: v as AuthType })}
                    options={AUTH_METHODS}
                  />
                  {d.authType === 'custom_header' && (
                    <TextField
                      label="Header name"
                      value={d.headerName}
                      onValue={(v) => update(d.key, { headerName: v })}
                      error={err(i, 'headerName')}
                    />
                  )}
                  {d.authType !== 'none' && (
                    <TextField
                      label="Credential"
                      type="password"
                      autoComplete="off"
                      value={d.credential}
                      onValue={(v) => update(d.key, { credential: v })}
                      error={err(i, 'credential')}
                      hint={
                        d.id && d.authType === d.savedAuthType
                          ? 'Saved and encrypted. Leave empty to keep it.'
                          : 'Stored encrypted.'
                      }
                    />
                  )}
                  <TextField
                    label="Timeout (seconds)"
                    type="number"
                    min="1"
                    max="30"
                    value={d.timeoutS}
                    onValue={(v) => update(d.key, { timeoutS: v })}
                    error={err(i, 'timeout')}
                  />
                </div>
              )}
              {d.type === 'broker' && (
                <div class="grid-3">
                  <TextField
                    label="Timeout (seconds)"
                    type="number"
                    min="1"
                    max="30"
                    value={d.timeoutS}
                    onValue={(v) => update(d.key, { timeoutS: v })}
                    error={err(i, 'timeout')}
                  />
                </div>
              )}
              {(d.type === 'webhook' || d.type === 'broker') && automation && d.id && (
                <SecretField
                  secretPath={`/api/v1/automations/${encodeURIComponent(automation.id)}/destinations/${encodeURIComponent(d.id)}/secret`}
                  fieldId={d.id}
                  hint={
                    <>
                      {d.type === 'broker'
                        ? 'Messages carry the signature headers as message headers: verify '
                        : 'Alerts carry the headers Shield receivers expect and are signed besides: verify '}
                      <code>X-Escalatr-Signature</code> or the Standard Webhooks headers with this key, or ignore them.
                    </>
                  }
                />
              )}
              <button
                type="button"
                class="btn btn-quiet"
                onClick={() => setDestinations((ds) => ds.filter((x) => x.key !== d.key))}
                aria-label={`Remove destination ${i + 1}`}
              >
                Remove destination
              </button>
            </div>
          ))}
          {showErrors && listError && (
            <p class="field-error" role="alert">
              {listError}
            </p>
          )}
          <button type="button" class="btn" onClick={() => setDestinations((ds) => [...ds, emptyDraft()])}>
            Add destination
          </button>
        </fieldset>
        <div class="btn-row">
          <button type="submit" class="btn btn-primary" disabled={save.busy}>
            {save.busy ? 'Saving…' : automation ? 'Save changes' : 'Create automation'}
          </button>
          <button type="button" class="btn btn-quiet" onClick={onCancel}>
            Cancel
          </button>
        </div>
        <Outcome error={save.error} />
      </form>
    </section>
  );
}
