import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { api, ApiError, type ListPage } from '../api';
import { Badge } from '../components/Badge';
import { Notice } from '../components/Notice';
import { capitalise, formatDate, formatTime } from '../format';
import { useAsync, type Async } from '../hooks';
import { deliveryPath, feedbackRecordPath, Link } from '../router';
import { canAdmin, useSession } from '../session';
import type { AlertDelivery, Endpoint, FeedbackRecord, FeedbackSignal, RecordAlert } from '../types';

const THREAD_LIMIT = 100;
const ALERT_LIMIT = 100;

const GROUPS: Array<{ group: FeedbackSignal['group']; title: string; hint: string }> = [
  {
    group: 'threat',
    title: 'Explicit threats',
    hint: 'Weigh most: one gives High, a legal threat or two give Extreme.',
  },
  { group: 'soft', title: 'Softer signals', hint: 'Raise the escalation level without a threat, up to Medium.' },
  { group: 'emotion', title: 'Emotion', hint: 'Drive the emotional intensity level.' },
  { group: 'other', title: 'Other cues', hint: 'Adjust the reading of the text.' },
];

/**
 * One scored feedback record: what the customer wrote, its levels and the signals behind them, its thread, and the
 * alerts Escalation Shield sent for it with where each delivery stands. Every Shield alert links here.
 */
export function FeedbackRecordPage({ id }: { id: string }) {
  const { session } = useSession();
  const admin = canAdmin(session);
  const base = `/api/v1/feedback/${encodeURIComponent(id)}`;
  const record = useAsync(
    () =>
      api.get<FeedbackRecord>(base).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404)
          throw new Error(`There is no feedback record “${id}” at ${session.company.name}.`);
        throw err;
      }),
    [base],
  );
  // The thread and the alerts load on their own, so one failing part never blanks the page.
  const thread = useAsync(() => api.list<FeedbackRecord>(`${base}/thread?limit=${THREAD_LIMIT}`), [base]);
  const alerts = useAsync(() => api.list<RecordAlert>(`${base}/alerts?limit=${ALERT_LIMIT}`), [base]);
  // Endpoint URLs are for owners and admins; others see that an endpoint received the alert.
  const endpoints = useAsync(
    async () => (admin ? (await api.list<Endpoint>('/api/v1/webhooks?limit=100')).data : []),
    [admin],
  );
  useEffect(() => {
    document.title = `Feedback ${id} · Escalatr`;
  }, [id]);

  // While an alert is still on its way, look again every few seconds; settled alerts are left alone.
  const sending =
    alerts.data?.data.some((a) => a.deliveries.some((d) => d.status === 'pending')) === true ||
    (record.data !== undefined && record.data.scored_at === null);
  useEffect(() => {
    if (!sending) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      void alerts.reload();
      if (record.data?.scored_at === null) void record.reload();
    }, 3000);
    return () => clearInterval(timer);
  }, [sending, alerts.reload, record.reload, record.data?.scored_at]);

  const refresh = () => {
    void record.reload();
    void thread.reload();
    void alerts.reload();
  };
  const r = record.data;
  return (
    <section class="page" aria-labelledby="record-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <Link href="/settings/integrations/shield">Escalation Shield</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">Feedback {id}</span>
      </nav>
      {record.error && !r && <Notice kind="error">{record.error}</Notice>}
      {!r && !record.error && <p class="muted">Loading…</p>}
      {r && (
        <>
          <div class="page-head">
            <div>
              <h1 id="record-title">Feedback from {r.source}</h1>
              <div class="head-meta">
                <span class="mono">{r.id}</span>
                {r.levels ? (
                  <>
                    <Badge
                      value={`Escalation ${capitalise(r.levels.escalation_level)}`}
                      tone={levelTone(r.levels.escalation_level)}
                    />
                    {r.levels.emotional_intensity_level && (
                      <Badge
                        value={`Intensity ${capitalise(r.levels.emotional_intensity_level)}`}
                        tone={levelTone(r.levels.emotional_intensity_level)}
                      />
                    )}
                  </>
                ) : (
                  <Badge value={r.scored_at ? 'Not scored' : 'Scoring…'} tone="neutral" />
                )}
              </div>
            </div>
            <button type="button" class="btn" onClick={refresh} disabled={record.loading}>
              Refresh
            </button>
          </div>
          {record.error && <Notice kind="error">{record.error}</Notice>}
          <div class="detail-grid">
            <div class="stack-lg">
              <section class="card" aria-labelledby="content-title">
                <div class="card-head">
                  <h2 id="content-title">What the customer wrote</h2>
                  {r.source_url && (
                    <a href={r.source_url} target="_blank" rel="noopener noreferrer" class="btn btn-sm">
                      Open in {r.source} <span aria-hidden="true">↗</span>
                    </a>
                  )}
                </div>
                <p class="description">
                  <HighlightedContent content={r.content} signals={r.explanation ?? []} />
                </p>
                <dl class="fields">
                  <Field term="Record ID" value={<span class="mono">{r.id}</span>} />
                  <Field term="Source" value={r.source} />
                  <Field term="Written" value={formatDate(r.created_at ?? null)} />
                  <Field term="Received" value={formatDate(r.received_at ?? null)} />
                  <Field term="Scored" value={r.scored_at ? formatDate(r.scored_at) : 'Not yet'} />
                  <Field term="Thread" value={r.thread_id ? <span class="mono">{r.thread_id}</span> : '—'} />
                  <Field term="Customer" value={r.customer_id ? <span class="mono">{r.customer_id}</span> : '—'} />
                  <Field
                    term="Source link"
                    wide
                    value={
                      r.source_url ? (
                        <a href={r.source_url} target="_blank" rel="noopener noreferrer" class="break">
                          {r.source_url}
                        </a>
                      ) : (
                        'None sent'
                      )
                    }
                  />
                </dl>
              </section>
              <AlertsSection alerts={alerts} endpoints={endpoints.data ?? []} admin={admin} />
              <ThreadSection record={r} thread={thread} />
            </div>
            <div class="stack-lg">
              <LevelsCard record={r} />
              <DriversCard record={r} />
            </div>
          </div>
        </>
      )}
    </section>
  );
}

const levelTone = (level: string) =>
  ({ extreme: 'danger', high: 'warning', medium: 'info' })[level.toLowerCase()] ?? 'neutral';

function Field({ term, value, wide }: { term: string; value: ComponentChildren; wide?: boolean }) {
  return (
    <div class={wide ? 'wide' : undefined}>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function LevelsCard({ record: r }: { record: FeedbackRecord }) {
  return (
    <section class="card" aria-labelledby="levels-title">
      <h2 id="levels-title">Levels</h2>
      {!r.levels ? (
        <p class="muted">
          {r.scored_at
            ? 'The scorer could not read this record, so it has no levels.'
            : 'Escalation Shield scores new records within seconds; this page updates when it has.'}
        </p>
      ) : (
        <dl class="levels">
          <div>
            <dt>Escalation</dt>
            <dd>
              <Badge value={capitalise(r.levels.escalation_level)} tone={levelTone(r.levels.escalation_level)} />
            </dd>
          </div>
          <div>
            <dt>Emotional intensity</dt>
            <dd>
              {r.levels.emotional_intensity_level ? (
                <Badge
                  value={capitalise(r.levels.emotional_intensity_level)}
                  tone={levelTone(r.levels.emotional_intensity_level)}
                />
              ) : (
                '—'
              )}
            </dd>
          </div>
          <div>
            <dt>Sentiment shift</dt>
            <dd>
              {r.levels.sentiment_shift ? (
                <Badge
                  value={capitalise(r.levels.sentiment_shift)}
                  tone={
                    r.levels.sentiment_shift === 'sentiment degraded'
                      ? 'warning'
                      : r.levels.sentiment_shift === 'sentiment improved'
                        ? 'success'
                        : 'neutral'
                  }
                />
              ) : (
                <span class="muted small">No earlier records in the thread to compare with</span>
              )}
            </dd>
          </div>
          {typeof r.sentiment === 'number' && (
            <div>
              <dt id="sentiment-label">Sentiment</dt>
              <dd class="sentiment">
                <meter
                  min={-1}
                  max={1}
                  low={-0.2}
                  high={0.2}
                  optimum={1}
                  value={r.sentiment}
                  aria-labelledby="sentiment-label"
                />
                <span class="mono small">
                  {r.sentiment > 0 ? '+' : ''}
                  {r.sentiment.toFixed(2)}
                </span>
                <span class="muted small">
                  {r.sentiment <= -0.2 ? 'negative' : r.sentiment >= 0.2 ? 'positive' : 'neutral'}
                </span>
              </dd>
            </div>
          )}
        </dl>
      )}
    </section>
  );
}

type ExplanationSignal = FeedbackRecord['explanation'][number];

const signedWeight = (w: number) => `${w > 0 ? '+' : ''}${w.toFixed(2)}`;

/**
 * The content with the text behind each explanation signal marked: raising the score in one colour, lowering it in
 * another. Overlapping spans keep the first (strongest signals come first, so it is sorted by position after).
 */
function HighlightedContent({ content, signals }: { content: string; signals: ExplanationSignal[] }) {
  const spans = signals
    .filter((s) => s.span && s.span.end > s.span.start && s.span.end <= content.length)
    .sort((a, b) => a.span!.start - b.span!.start);
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const s of spans) {
    const { start, end } = s.span!;
    if (start < at) continue;
    if (start > at) parts.push(content.slice(at, start));
    parts.push(
      <mark
        key={`${s.signal}-${start}`}
        class={s.weight >= 0 ? 'hl-up' : 'hl-down'}
        title={`${s.signal}: ${signedWeight(s.weight)}`}
      >
        {content.slice(start, end)}
      </mark>,
    );
    at = end;
  }
  parts.push(content.slice(at));
  return <>{parts}</>;
}

/** The model's strongest signals for "escalation high or above", with their push on the score. */
function ExplanationList({ signals }: { signals: ExplanationSignal[] }) {
  if (signals.length === 0) return null;
  return (
    <div class="signal-group">
      <h3>Model signals</h3>
      <p class="muted small">
        What pushed the score towards (+) or away from (−) escalation High, strongest first; highlighted in the text.
      </p>
      <ul class="signals">
        {signals.map((s) => (
          <li key={s.signal}>
            <Badge value={signedWeight(s.weight)} tone={s.weight >= 0 ? 'danger' : 'neutral'} />
            <span class="small">
              <span class="mono">{s.signal}</span>
              {s.span && <> — “{s.span.text}”</>}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function DriversCard({ record: r }: { record: FeedbackRecord }) {
  const signals = r.signals ?? [];
  return (
    <section class="card" aria-labelledby="drivers-title">
      <h2 id="drivers-title">What drove the score</h2>
      {signals.length === 0 ? (
        <p class="muted">
          {r.levels
            ? 'No escalation cues fired: the levels come from the sentiment of the text alone.'
            : 'Nothing yet: the record is not scored.'}
        </p>
      ) : (
        <div class="stack">
          {GROUPS.map(({ group, title, hint }) => {
            const fired = signals.filter((s) => s.group === group);
            if (fired.length === 0) return null;
            return (
              <div key={group} class="signal-group">
                <h3>{title}</h3>
                <p class="muted small">{hint}</p>
                <ul class="signals">
                  {fired.map((s) => (
                    <li key={s.cue}>
                      <Badge
                        value={s.label}
                        tone={group === 'threat' ? 'danger' : group === 'soft' ? 'warning' : 'neutral'}
                      />
                      {s.description && <span class="small">{s.description}</span>}
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </div>
      )}
      <ExplanationList signals={r.explanation ?? []} />
    </section>
  );
}

function receiverOf(d: AlertDelivery, endpoints: Endpoint[]): { kind: string; detail: string } {
  if (d.endpoint_id) {
    const ep = endpoints.find((e) => e.id === d.endpoint_id);
    return { kind: 'Webhook endpoint', detail: ep ? ep.description || ep.url : '' };
  }
  const dest = d.destination;
  if (!dest) return { kind: `${capitalise(d.target)} (removed)`, detail: '' };
  if (dest.type === 'email') return { kind: 'Email', detail: dest.to.join(', ') };
  return { kind: dest.type === 'slack' ? 'Slack' : 'Webhook', detail: dest.url };
}

function AlertsSection({
  alerts,
  endpoints,
  admin,
}: {
  alerts: Async<ListPage<RecordAlert>>;
  endpoints: Endpoint[];
  admin: boolean;
}) {
  const list = alerts.data?.data ?? [];
  return (
    <section class="card flush" aria-labelledby="alerts-title">
      <div class="card-head card-title-pad">
        <div>
          <h2 id="alerts-title">Alerts sent</h2>
          <p class="muted small">Every automation that fired for this record, and where each delivery stands.</p>
        </div>
      </div>
      {alerts.error && <Notice kind="error">{alerts.error}</Notice>}
      {!alerts.data && !alerts.error && <p class="muted card-title-pad">Loading…</p>}
      {alerts.data && list.length === 0 && (
        <p class="muted card-title-pad">
          No alert was sent for this record: no active automation's filter matched it when it was scored.
        </p>
      )}
      {list.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Automation</th>
                <th scope="col">Destination</th>
                <th scope="col">Delivery</th>
              </tr>
            </thead>
            {list.map((a) => (
              <tbody key={a.event_id} class="alert-group">
                {a.deliveries.length === 0 && (
                  <tr>
                    <AutomationCell alert={a} />
                    <td colSpan={2} class="muted small">
                      The automation had no destinations.
                    </td>
                  </tr>
                )}
                {a.deliveries.map((d, i) => {
                  const to = receiverOf(d, endpoints);
                  return (
                    <tr key={d.id}>
                      {i === 0 ? <AutomationCell alert={a} rows={a.deliveries.length} /> : null}
                      <td>
                        <div>{to.kind}</div>
                        {to.detail && (
                          <div class="muted small truncate mono" title={to.detail}>
                            {to.detail}
                          </div>
                        )}
                      </td>
                      <td>
                        <DeliveryState delivery={d} />
                        {admin && (
                          <Link
                            href={deliveryPath(d.id)}
                            class="small"
                            aria-label={`View attempts of delivery ${d.id} to ${to.kind}`}
                          >
                            View attempts
                          </Link>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            ))}
          </table>
        </div>
      )}
      {alerts.data && alerts.data.total > list.length && (
        <p class="muted small card-title-pad">
          Showing the latest {list.length} of {alerts.data.total} alerts.
        </p>
      )}
    </section>
  );
}

/** Where one delivery stands: its status, how many attempts, the last answer, and the next try if one is due. */
function DeliveryState({ delivery: d }: { delivery: AlertDelivery }) {
  const code = d.last_status_code;
  return (
    <div class="delivery-state">
      <div class="nowrap">
        <Badge value={d.status} />{' '}
        {code !== null && (
          <span class={`code ${code >= 200 && code < 300 ? 'ok' : 'bad'}`} title="Last response status">
            {code}
          </span>
        )}
      </div>
      <div class="muted small nowrap">
        {d.attempt_count} {d.attempt_count === 1 ? 'attempt' : 'attempts'}
        {(d.status === 'failed' || d.status === 'pending') && d.next_attempt_at && (
          <span title={formatDate(d.next_attempt_at, { seconds: true })}>
            {' '}
            · next try {formatTime(d.next_attempt_at)}
          </span>
        )}
      </div>
      {code === null && d.last_error && <div class="muted small">{d.last_error}</div>}
    </div>
  );
}

function AutomationCell({ alert: a, rows }: { alert: RecordAlert; rows?: number }) {
  return (
    <th scope="rowgroup" rowSpan={rows} class="automation-cell">
      <div>{a.automation_name ?? <span class="muted">Deleted automation</span>}</div>
      <time class="muted small" dateTime={a.escalated_at}>
        {formatDate(a.escalated_at, { seconds: true })}
      </time>
    </th>
  );
}

function ThreadSection({ record, thread }: { record: FeedbackRecord; thread: Async<ListPage<FeedbackRecord>> }) {
  const items = thread.data?.data ?? [];
  return (
    <section class="card" aria-labelledby="thread-title">
      <h2 id="thread-title">Thread</h2>
      {!record.thread_id && (
        <p class="muted">This record has no thread id, so its sentiment has nothing earlier to compare with.</p>
      )}
      {record.thread_id && thread.error && <Notice kind="error">{thread.error}</Notice>}
      {record.thread_id && !thread.data && !thread.error && <p class="muted">Loading…</p>}
      {record.thread_id && thread.data && (
        <>
          <p class="muted small">
            {thread.data.total === 1 ? 'The only record of thread ' : `${thread.data.total} records of thread `}
            <span class="mono">{record.thread_id}</span>, in the order they arrived.
          </p>
          <ol class="timeline thread">
            {items.map((t) => {
              const current = t.id === record.id;
              return (
                <li
                  key={t.id}
                  class={`timeline-item${current ? ' current' : ''}`}
                  aria-current={current ? 'true' : undefined}
                >
                  <span class="timeline-dot" aria-hidden="true" />
                  <div class="timeline-body">
                    <div class="timeline-head">
                      <span class="small">
                        {current ? (
                          <strong>This record</strong>
                        ) : (
                          <Link href={feedbackRecordPath(t.id)} class="mono">
                            {t.id}
                          </Link>
                        )}{' '}
                        <span class="muted">· {t.source}</span>
                      </span>
                      <time class="muted small" dateTime={t.received_at}>
                        {formatDate(t.created_at ?? t.received_at ?? null)}
                      </time>
                    </div>
                    <p class="thread-text">{t.content.length > 280 ? `${t.content.slice(0, 280)}…` : t.content}</p>
                    <div class="muted small">
                      {t.levels ? (
                        <>
                          Escalation{' '}
                          <Badge value={t.levels.escalation_level} tone={levelTone(t.levels.escalation_level)} />
                          {t.levels.sentiment_shift && <> · {t.levels.sentiment_shift}</>}
                        </>
                      ) : (
                        'Not scored yet'
                      )}
                    </div>
                  </div>
                </li>
              );
            })}
          </ol>
          {thread.data.total > items.length && (
            <p class="muted small">
              Showing the first {items.length} of {thread.data.total} records.
            </p>
          )}
        </>
      )}
    </section>
  );
}
