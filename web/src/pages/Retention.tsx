import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { capitalise, formatDate } from '../format';
import { useAction, useAsync } from '../hooks';
import { canAdmin, useSession } from '../session';
import type { RetentionInput, RetentionSettings } from '../types';

/**
 * Settings → Data retention: how long the company's delivery history, event feed and Shield feedback are kept, and
 * what the feed holds now. Owners and admins change the window within the plan; everyone else reads it. Store-wide
 * figures (the size of the whole store, every tenant's oldest rows) are the operator's, in /metrics: a company sees
 * only its own.
 */
export function RetentionPage() {
  const { session } = useSession();
  const settings = useAsync(() => api.get<RetentionSettings>('/api/v1/settings/retention'), []);
  useEffect(() => {
    document.title = 'Data retention · Escalatr';
  }, []);
  return (
    <section class="page" aria-labelledby="retention-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <span>Settings</span> <span aria-hidden="true">/</span> <span aria-current="page">Data retention</span>
      </nav>
      <h1 id="retention-title">Data retention</h1>
      <p class="lead">
        Delivery history (deliveries and their attempts), the event feed and Escalation Shield feedback older than the
        window are removed for good. Complaints, with their messages and timelines, are kept. Deliveries still being
        sent are kept until they finish.
      </p>
      {settings.error && <Notice kind="error">{settings.error}</Notice>}
      {settings.data && (
        <>
          <section class="card" aria-labelledby="storage-title">
            <h2 id="storage-title">What is kept</h2>
            <dl class="fields">
              <Fact term="Window" value={`${settings.data.days} days`} testId="retention-days" />
              <Fact term="Plan" value={`${capitalise(settings.data.plan)} — up to ${settings.data.max_days} days`} />
              <Fact term="Events in the feed" value={String(settings.data.feed_events)} />
              <Fact
                term="Oldest event in the feed"
                value={settings.data.oldest_event_at ? formatDate(settings.data.oldest_event_at) : 'None yet'}
              />
            </dl>
          </section>
          {canAdmin(session) ? (
            <RetentionForm current={settings.data} onSaved={() => void settings.reload()} />
          ) : (
            <Notice kind="info">Only owners and admins can change how long history is kept.</Notice>
          )}
        </>
      )}
    </section>
  );
}

function RetentionForm({ current, onSaved }: { current: RetentionSettings; onSaved: () => void }) {
  const [days, setDays] = useState(String(current.days));
  const [error, setError] = useState<string | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1 || n > current.max_days) {
      return setError(`Enter a whole number of days from 1 to ${current.max_days}.`);
    }
    setError(null);
    const body: RetentionInput = { days: n };
    const saved = await action.run(
      () => api.put<RetentionSettings>('/api/v1/settings/retention', body),
      (r) => `History is now kept for ${r.days} days. Older rows are removed at the next cleanup.`,
    );
    if (saved) onSaved();
  };
  return (
    <section class="card" aria-labelledby="retention-form-title">
      <h2 id="retention-form-title">Change the window</h2>
      <form onSubmit={submit} class="inline-form" noValidate>
        <TextField
          label="Days to keep"
          type="number"
          min="1"
          max={String(current.max_days)}
          step="1"
          inputMode="numeric"
          value={days}
          onValue={setDays}
          error={error}
          hint={`1 to ${current.max_days} on your plan (default ${current.default_days}). A shorter window cannot be undone for rows already removed.`}
        />
        <button type="submit" class="btn btn-primary align-end" disabled={action.busy}>
          Save
        </button>
      </form>
      <Outcome error={action.error} success={action.success} />
    </section>
  );
}

function Fact({ term, value, testId }: { term: string; value: string; testId?: string }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}
