import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { SelectField, TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { Toggle } from '../components/Toggle';
import { useAction, useAsync } from '../hooks';
import type { BreachRule } from '../types';

/** What a breached response window does to the complaint: reassign it and/or flag it. Owners and admins change it. */
export function BreachRuleCard({ admin }: { admin: boolean }) {
  const current = useAsync(() => api.get<BreachRule>('/api/v1/settings/breach-rule'), []);
  const [rule, setRule] = useState<BreachRule | null>(null);
  const action = useAction();
  useEffect(() => {
    if (current.data) setRule(current.data);
  }, [current.data]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!rule) return;
    const body = { ...rule, assignee: rule.reassign === 'user' ? rule.assignee : null };
    const saved = await action.run(
      () => api.put<BreachRule>('/api/v1/settings/breach-rule', body),
      'Breach rule saved.',
    );
    if (saved) setRule(saved);
  };

  return (
    <form class="card" onSubmit={save} aria-label="Breach rule">
      <h2>When a window is breached</h2>
      <p class="muted">
        Besides complaint.sla_breached and the escalation: give the complaint to someone else and/or flag it. Each
        change is written to the complaint's timeline.
      </p>
      {current.error && <Notice kind="error">{current.error}</Notice>}
      {rule && (
        <fieldset class="bare stack" disabled={!admin}>
          <SelectField
            label="Reassign to"
            value={rule.reassign}
            onValue={(v) => setRule({ ...rule, reassign: v as BreachRule['reassign'] })}
            options={[
              { value: 'none', label: 'Nobody (keep the holder)' },
              { value: 'user', label: 'A named staff member' },
              { value: 'least_loaded', label: 'The least-loaded agent or admin' },
            ]}
          />
          {rule.reassign === 'user' && (
            <TextField
              label="Staff email"
              value={rule.assignee ?? ''}
              onValue={(v) => setRule({ ...rule, assignee: v })}
              hint="An owner, admin or agent of your company."
              maxLength={320}
              autoCapitalize="none"
            />
          )}
          <Toggle
            label="Flag the complaint"
            checked={rule.flag}
            onChange={(v) => setRule({ ...rule, flag: v })}
            disabled={!admin}
            states={['On', 'Off']}
          />
          {admin && (
            <div>
              <button type="submit" class="btn btn-primary" disabled={action.busy}>
                Save breach rule
              </button>
            </div>
          )}
          <Outcome error={action.error} success={action.success} />
        </fieldset>
      )}
    </form>
  );
}
