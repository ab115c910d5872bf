import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api';
import { Badge } from '../components/Badge';
import { SelectField, TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { Pagination } from '../components/Pagination';
import { DELIVERY_STATUSES, WEBHOOK_EVENTS } from '../catalog';
import { formatDate, formatDuration, formatTime, toLocalInput } from '../format';
import { useAction, useAsync } from '../hooks';
import { setSearch, useLocation } from '../router';
import { canAdmin, useSession } from '../session';
import type { Delivery, DeliveryDetail, Endpoint } from '../types';
import { DeliveryChart, normaliseStats, type Bucket } from './DeliveryChart';

const LIMIT = 25;
const WINDOWS = [
  { value: '24h', label: 'Last 24 hours', ms: 24 * 3600_000, bucket: 'hour' },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86400_000, bucket: 'day' },
  { value: '30d', label: 'Last 30 days', ms: 30 * 86400_000, bucket: 'day' },
];

const eventOf = (d: Delivery) => d.event;

/** Settings → Integrations → Deliveries: every delivery and attempt, filters, resend, recover, and the outcome chart. */
export function DeliveriesTab() {
  const { session } = useSession();
  if (!canAdmin(session)) return <Notice kind="info">Only owners and admins can see webhook deliveries.</Notice>;
  return <Deliveries />;
}

function Deliveries() {
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const event = search.get('event') ?? '';
  const endpointId = search.get('endpoint_id') ?? '';
  const since = search.get('since') ?? '';
  const page = Math.max(1, Number(search.get('page')) || 1);
  const [windowKey, setWindowKey] = useState('24h');
  const win = WINDOWS.find((w) => w.value === windowKey)!;

  const endpoints = useAsync(() => api.list<Endpoint>('/api/v1/webhooks?limit=100').then((p) => p.data), []);
  const sinceIso = since ? new Date(since).toISOString() : '';
  const deliveries = useAsync(
    () =>
      api.list<Delivery>(
        `/api/v1/deliveries${query({ status, event, endpoint_id: endpointId, since: sinceIso, page, limit: LIMIT })}`,
      ),
    [status, event, endpointId, sinceIso, page],
  );
  const stats = useAsync(async (): Promise<Bucket[]> => {
    const from = Date.now() - win.ms;
    const data = await api.get<unknown>(
      `/api/v1/deliveries/stats${query({ since: new Date(from).toISOString(), bucket: win.bucket })}`,
    );
    return normaliseStats(data);
  }, [windowKey]);

  // While something is still in flight, look again every few seconds; a finished list is left alone.
  const inFlight = deliveries.data?.data.some((d) => d.status === 'pending') ?? false;
  useEffect(() => {
    if (!inFlight) return;
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') {
        void deliveries.reload();
        void stats.reload();
      }
    }, 3000);
    return () => clearInterval(t);
  }, [inFlight, deliveries.reload, stats.reload]);

  const endpointUrl = (id?: string | null) => endpoints.data?.find((e) => e.id === id)?.url;
  const focusedId = search.get('delivery') ?? '';
  const filter = (key: string) => (value: string) => setSearch({ [key]: value, page: null });
  const refresh = () => {
    void deliveries.reload();
    void stats.reload();
  };

  return (
    <div class="stack-lg">
      {focusedId && <FocusedDelivery id={focusedId} endpointUrl={endpointUrl} onChanged={refresh} />}
      <section class="card" aria-labelledby="chart-title">
        <div class="card-head">
          <div>
            <h2 id="chart-title">Delivery outcomes</h2>
            <p class="muted small">Every attempt, by outcome, per {win.bucket}.</p>
          </div>
          <SelectField
            label="Period"
            value={windowKey}
            onValue={setWindowKey}
            options={WINDOWS.map((w) => ({ value: w.value, label: w.label }))}
            class="compact"
          />
        </div>
        {stats.error ? (
          <Notice kind="error">{stats.error}</Notice>
        ) : stats.data ? (
          <DeliveryChart buckets={stats.data} bucketLabel={win.bucket} />
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>

      <form class="filters" role="search" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          label="Status"
          value={status}
          onValue={filter('status')}
          options={[{ value: '', label: 'All statuses' }, ...DELIVERY_STATUSES.map((s) => ({ value: s, label: s }))]}
        />
        <SelectField
          label="Event"
          value={event}
          onValue={filter('event')}
          options={[
            { value: '', label: 'All events' },
            ...WEBHOOK_EVENTS.map((e) => ({ value: e.name, label: e.name })),
          ]}
        />
        <SelectField
          label="Endpoint"
          value={endpointId}
          onValue={filter('endpoint_id')}
          options={[
            { value: '', label: 'All endpoints' },
            ...(endpoints.data ?? []).map((e) => ({ value: e.id, label: e.description || e.url })),
          ]}
        />
        <TextField label="Since" type="datetime-local" value={since} onValue={filter('since')} />
        <button type="button" class="btn align-end" onClick={refresh} disabled={deliveries.loading}>
          Refresh
        </button>
      </form>

      {deliveries.error && <Notice kind="error">{deliveries.error}</Notice>}
      <section class="card flush" aria-labelledby="deliveries-title">
        <h2 id="deliveries-title" class="card-title-pad">
          Deliveries
        </h2>
        <div class="table-wrap">
          <table class="table">
            <DeliveryHead />
            {deliveries.data?.data.map((d) => (
              <DeliveryRow
                key={d.id}
                delivery={d}
                endpointUrl={endpointUrl(d.endpoint_id) ?? d.target}
                onChanged={refresh}
              />
            ))}
            {deliveries.data?.data.length === 0 && (
              <tbody>
                <tr>
                  <td colSpan={7} class="empty">
                    No deliveries match. Press Test on a webhook to send one.
                  </td>
                </tr>
              </tbody>
            )}
          </table>
        </div>
        {deliveries.data && (
          <Pagination
            label="Deliveries"
            page={deliveries.data.page}
            limit={deliveries.data.limit}
            total={deliveries.data.total}
            totalExact={deliveries.data.totalExact}
            onPage={(p) => setSearch({ page: p })}
          />
        )}
      </section>

      <RecoverForm endpoints={endpoints.data ?? []} defaultEndpoint={endpointId} onDone={refresh} />
    </div>
  );
}

/**
 * One delivery opened on its attempts, above the list: where a link to a single delivery lands (a Shield record's
 * alerts link here), whatever the list's filters and page.
 */
function FocusedDelivery({
  id,
  endpointUrl,
  onChanged,
}: {
  id: string;
  endpointUrl: (id?: string | null) => string | undefined;
  onChanged: () => void;
}) {
  const delivery = useAsync(() => api.get<Delivery>(`/api/v1/deliveries/${encodeURIComponent(id)}`), [id]);
  const d = delivery.data;
  return (
    <section class="card flush" aria-labelledby="focused-title">
      <div class="card-head card-title-pad">
        <h2 id="focused-title">
          Delivery <span class="mono">{id}</span>
        </h2>
        <button type="button" class="btn btn-sm" onClick={() => setSearch({ delivery: null })}>
          Close
        </button>
      </div>
      {delivery.error && <Notice kind="error">{delivery.error}</Notice>}
      {!d && !delivery.error && <p class="muted card-title-pad">Loading…</p>}
      {d && (
        <div class="table-wrap">
          <table class="table">
            <DeliveryHead />
            <DeliveryRow
              delivery={d}
              endpointUrl={endpointUrl(d.endpoint_id) ?? d.target ?? '—'}
              initiallyOpen
              onChanged={() => {
                void delivery.reload();
                onChanged();
              }}
            />
          </table>
        </div>
      )}
    </section>
  );
}

function DeliveryHead() {
  return (
    <thead>
      <tr>
        <th scope="col">Created</th>
        <th scope="col">Event</th>
        <th scope="col">Endpoint</th>
        <th scope="col">Status</th>
        <th scope="col" class="num">
          Attempts
        </th>
        <th scope="col">Last response</th>
        <th scope="col">
          <span class="sr-only">Actions</span>
        </th>
      </tr>
    </thead>
  );
}

function DeliveryRow({
  delivery: d,
  endpointUrl,
  initiallyOpen = false,
  onChanged,
}: {
  delivery: Delivery;
  endpointUrl: string;
  initiallyOpen?: boolean;
  onChanged: () => void;
}) {
  const [open, setOpen] = useState(initiallyOpen);
  const detail = useAsync(
    async () => (open ? api.get<DeliveryDetail>(`/api/v1/deliveries/${encodeURIComponent(d.id)}`) : undefined),
    [open, d.id, d.updated_at, d.status],
  );
  const resend = useAction();
  const attempts = detail.data?.attempts ?? [];
  const code = d.last_status_code ?? null;
  const panelId = `attempts-${d.id}`;
  return (
    <tbody class={open ? 'expanded' : undefined}>
      <tr>
        <td class="small">{formatDate(d.created_at, { seconds: true })}</td>
        <td class="mono small">{eventOf(d)}</td>
        <td class="truncate mono small" title={endpointUrl}>
          {endpointUrl}
        </td>
        <td>
          <Badge value={d.status} />
          {(d.status === 'failed' || d.status === 'pending') && d.next_attempt_at && (
            <div class="muted small" title={formatDate(d.next_attempt_at, { seconds: true })}>
              next {formatTime(d.next_attempt_at)}
            </div>
          )}
        </td>
        <td class="num">{d.attempt_count}</td>
        <td>
          {code !== null ? (
            <span class={`code ${code >= 200 && code < 300 ? 'ok' : 'bad'}`}>{code}</span>
          ) : d.last_error ? (
            <span class="muted small">{d.last_error}</span>
          ) : (
            '—'
          )}
        </td>
        <td class="actions">
          <button
            type="button"
            class="btn btn-sm btn-quiet"
            aria-expanded={open}
            aria-controls={panelId}
            onClick={() => setOpen(!open)}
          >
            Attempts <span aria-hidden="true">{open ? '▴' : '▾'}</span>
          </button>
          <button
            type="button"
            class="btn btn-sm"
            disabled={resend.busy}
            onClick={async () => {
              if (
                (await resend.run(
                  () => api.post(`/api/v1/deliveries/${encodeURIComponent(d.id)}/resend`),
                  'Queued for resend.',
                )) !== undefined
              )
                onChanged();
            }}
          >
            Resend
          </button>
        </td>
      </tr>
      {(resend.error || resend.success) && (
        <tr>
          <td colSpan={7}>
            <Outcome error={resend.error} success={resend.success} />
          </td>
        </tr>
      )}
      {open && (
        <tr class="attempts-row">
          <td colSpan={7} id={panelId}>
            {detail.error && <Notice kind="error">{detail.error}</Notice>}
            {!detail.data && !detail.error && <p class="muted">Loading attempts…</p>}
            {detail.data && attempts.length === 0 && (
              <p class="muted">
                No attempts yet
                {d.next_attempt_at ? `; the first is due ${formatDate(d.next_attempt_at, { seconds: true })}` : ''}.
              </p>
            )}
            {attempts.length > 0 && (
              <table class="table inner">
                <caption class="sr-only">Attempts of delivery {d.id}</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Started</th>
                    <th scope="col">Response</th>
                    <th scope="col" class="num">
                      Duration
                    </th>
                    <th scope="col">Response body (first 2 KB)</th>
                  </tr>
                </thead>
                <tbody>
                  {attempts.map((a, i) => (
                    <tr key={a.n ?? i}>
                      <td>{a.n ?? i + 1}</td>
                      <td class="nowrap">{formatDate(a.started_at, { seconds: true })}</td>
                      <td>
                        {a.status_code !== null && a.status_code !== undefined ? (
                          <span class={`code ${a.status_code >= 200 && a.status_code < 300 ? 'ok' : 'bad'}`}>
                            {a.status_code}
                          </span>
                        ) : (
                          <Badge value={a.error_kind ?? 'error'} tone="danger" />
                        )}
                        {a.error_message && <div class="muted small">{a.error_message}</div>}
                      </td>
                      <td class="num">{formatDuration(a.duration_ms)}</td>
                      <td>
                        {a.response_excerpt ? (
                          <pre class="excerpt">{a.response_excerpt}</pre>
                        ) : (
                          <span class="muted">—</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <p class="muted small">
              Delivery <span class="mono">{d.id}</span>
              {d.event_id ? (
                <>
                  {' '}
                  · event <span class="mono">{d.event_id}</span>
                </>
              ) : null}
            </p>
          </td>
        </tr>
      )}
    </tbody>
  );
}

function RecoverForm({
  endpoints,
  defaultEndpoint,
  onDone,
}: {
  endpoints: Endpoint[];
  defaultEndpoint: string;
  onDone: () => void;
}) {
  const [endpointId, setEndpointId] = useState(defaultEndpoint);
  const [since, setSince] = useState(toLocalInput(Date.now() - 24 * 3600_000));
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  useEffect(() => setEndpointId(defaultEndpoint || endpoints[0]?.id || ''), [defaultEndpoint, endpoints]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const at = new Date(since).getTime();
    if (!endpointId) return setInvalid('Choose an endpoint.');
    if (!since || Number.isNaN(at)) return setInvalid('Choose the time to recover from.');
    if (at > Date.now()) return setInvalid('Choose a time in the past.');
    setInvalid(null);
    const res = await action.run(
      () =>
        api.post<{ resent?: number; skipped?: number }>(`/api/v1/webhooks/${encodeURIComponent(endpointId)}/recover`, {
          since: new Date(at).toISOString(),
        }),
      (r) =>
        `Queued ${r?.resent ?? 0} failed or dead ${(r?.resent ?? 0) === 1 ? 'delivery' : 'deliveries'} for resend.`,
    );
    if (res) onDone();
  };
  return (
    <section class="card" aria-labelledby="recover-title">
      <h2 id="recover-title">Recover failed deliveries</h2>
      <p class="muted">
        After an outage on your side, resend every failed and dead delivery of one endpoint since a time.
      </p>
      <form class="inline-form" onSubmit={submit}>
        <SelectField
          label="Endpoint"
          value={endpointId}
          onValue={setEndpointId}
          options={
            endpoints.length
              ? endpoints.map((e) => ({ value: e.id, label: e.description || e.url }))
              : [{ value: '', label: 'No endpoints' }]
          }
        />
        <TextField label="Since" type="datetime-local" value={since} onValue={setSince} />
        <button type="submit" class="btn btn-primary align-end" disabled={action.busy || endpoints.length === 0}>
          Recover
        </button>
      </form>
      <Outcome error={invalid ?? action.error} success={action.success} />
    </section>
  );
}
