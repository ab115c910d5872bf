import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { BreachRuleCard } from './BreachRuleCard';
import { TextArea, TextField } from '../components/Field';
import { Notice, Outcome } from '../components/Notice';
import { Toggle } from '../components/Toggle';
import { useAction, useAsync } from '../hooks';
import { canAdmin, useSession } from '../session';
import type { SlaCalendar, SlaCalendarInput } from '../types';

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
type Day = (typeof DAYS)[number];
const ALL_DAY = '00:00-24:00';

interface Form {
  timeZone: string;
  hours: Record<Day, string>;
  holidays: string;
  pause: boolean;
  warnings: string;
}

/** The calendar as the form edits it: intervals as `09:00-12:00, 13:00-17:00`, holidays one per line, percentages. */
function toForm(c: SlaCalendar): Form {
  return {
    timeZone: c.time_zone,
    hours: Object.fromEntries(
      DAYS.map((d) => [d, c.business_hours[d].map((i) => `${i.start}-${i.end}`).join(', ')]),
    ) as Record<Day, string>,
    holidays: c.holidays.join('\n'),
    pause: c.pause_when_awaiting_consumer,
    warnings: c.warning_fractions.map((f) => String(Math.round(f * 1000) / 10)).join(', '),
  };
}

/** Reads the form back; what it cannot read is reported per field, the rest the server checks (overlaps, dates). */
function fromForm(f: Form): { body?: SlaCalendarInput; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const business_hours: SlaCalendarInput['business_hours'] = {};
  for (const d of DAYS) {
    const text = f.hours[d].trim();
    if (!text) {
      business_hours[d] = [];
      continue;
    }
    const parts = text.split(',').map((p) => p.trim());
    const intervals = parts.map((p) => /^(\d{2}:\d{2})\s*[-–]\s*(\d{2}:\d{2})$/.exec(p));
    if (intervals.some((m) => !m)) errors[d] = 'Write intervals as 09:00-17:00, separated by commas.';
    else business_hours[d] = intervals.map((m) => ({ start: m![1], end: m![2] }));
  }
  const holidays = f.holidays
    .split(/[\s,]+/)
    .map((h) => h.trim())
    .filter(Boolean);
  if (holidays.some((h) => !/^\d{4}-\d{2}-\d{2}$/.test(h))) errors.holidays = 'One date per line, as YYYY-MM-DD.';
  const warnings = f.warnings
    .split(',')
    .map((w) => w.trim().replace(/%$/, ''))
    .filter(Boolean)
    .map(Number);
  if (warnings.some((w) => !(w > 0 && w < 100))) errors.warnings = 'Percentages between 0 and 100, e.g. 50, 75.';
  if (!f.timeZone.trim()) errors.timeZone = 'Enter a time zone such as Europe/Berlin.';
  if (Object.keys(errors).length) return { errors };
  return {
    errors,
    body: {
      time_zone: f.timeZone.trim(),
      business_hours,
      holidays,
      pause_when_awaiting_consumer: f.pause,
      warning_fractions: warnings.map((w) => w / 100),
    },
  };
}

const label = (d: Day) => d[0].toUpperCase() + d.slice(1);

/** Settings → SLA calendar: the business hours, holidays and pause rule a company's response windows count in. */
export function SlaCalendarPage() {
  const { session } = useSession();
  const admin = canAdmin(session);
  const current = useAsync(() => api.get<SlaCalendar>('/api/v1/settings/calendar'), []);
  const [form, setForm] = useState<Form | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const action = useAction();
  useEffect(() => {
    document.title = 'SLA calendar · Settings · Escalatr';
  }, []);
  useEffect(() => {
    if (current.data) setForm(toForm(current.data));
  }, [current.data]);

  const set = (patch: Partial<Form>) => setForm((f) => (f ? { ...f, ...patch } : f));
  const save = async (e: Event) => {
    e.preventDefault();
    if (!form) return;
    const { body, errors: found } = fromForm(form);
    setErrors(found);
    if (!body) return;
    const saved = await action.run(() => api.put<SlaCalendar>('/api/v1/settings/calendar', body), 'Calendar saved.');
    if (saved) setForm(toForm(saved));
  };

  return (
    <section class="page" aria-labelledby="calendar-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <span>Settings</span> <span aria-hidden="true">/</span> <span aria-current="page">SLA calendar</span>
      </nav>
      <h1 id="calendar-title">SLA calendar</h1>
      <p class="muted">
        Response windows count only the business hours below, in the company's time zone, and skip holidays. A new
        calendar applies to windows that start after it is saved.
      </p>
      {!admin && <Notice kind="info">The SLA calendar is managed by owners and admins; you can read it.</Notice>}
      {current.error && <Notice kind="error">{current.error}</Notice>}
      {!form && !current.error && <p class="muted">Loading…</p>}
      {form && (
        <form class="card" onSubmit={save} aria-label="SLA calendar">
          <fieldset class="bare stack" disabled={!admin}>
            <TextField
              label="Time zone"
              value={form.timeZone}
              onValue={(v) => set({ timeZone: v })}
              hint="An IANA time zone, e.g. Europe/Berlin or America/New_York."
              error={errors.timeZone}
              maxLength={64}
              autoCapitalize="none"
            />
            <fieldset class="stack">
              <legend>Business hours</legend>
              <p class="hint">Per day, local times such as 09:00-12:00, 13:00-17:00; empty means closed.</p>
              <table class="hours-table">
                <tbody>
                  {DAYS.map((d) => (
                    <tr key={d}>
                      <th scope="row">
                        <label for={`hours-${d}`}>{label(d)}</label>
                      </th>
                      <td>
                        <input
                          id={`hours-${d}`}
                          value={form.hours[d]}
                          placeholder="Closed"
                          aria-invalid={errors[d] ? true : undefined}
                          aria-describedby={errors[d] ? `hours-${d}-error` : undefined}
                          onInput={(e) =>
                            set({ hours: { ...form.hours, [d]: (e.currentTarget as HTMLInputElement).value } })
                          }
                        />
                        {errors[d] && (
                          <p class="field-error" id={`hours-${d}-error`} role="alert">
                            {errors[d]}
                          </p>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {admin && (
                <button
                  type="button"
                  class="btn btn-quiet"
                  onClick={() =>
                    set({ hours: Object.fromEntries(DAYS.map((d) => [d, ALL_DAY])) as Record<Day, string> })
                  }
                >
                  Open 24×7
                </button>
              )}
            </fieldset>
            <TextArea
              label="Holidays"
              value={form.holidays}
              onValue={(v) => set({ holidays: v })}
              hint="Closed all day: one date per line, as YYYY-MM-DD."
              error={errors.holidays}
              rows={4}
            />
            <TextField
              label="Warn at (% of the window)"
              value={form.warnings}
              onValue={(v) => set({ warnings: v })}
              hint="complaint.sla_warning is sent when this share of a window's business time has passed, e.g. 50, 75."
              error={errors.warnings}
              inputMode="decimal"
            />
            <Toggle
              label="Pause while waiting on the consumer"
              checked={form.pause}
              onChange={(v) => set({ pause: v })}
              disabled={!admin}
              states={['On', 'Off']}
            />
            <p class="hint">
              A window that starts while a follow-up question or a settlement offer awaits the consumer's answer waits
              for it, then runs with the time it had left.
            </p>
            {admin && (
              <div>
                <button type="submit" class="btn btn-primary" disabled={action.busy}>
                  Save calendar
                </button>
              </div>
            )}
            <Outcome error={action.error} success={action.success} />
          </fieldset>
        </form>
      )}
      <BreachRuleCard admin={admin} />
    </section>
  );
}
