import { useState } from 'preact/hooks';
import { api } from '../api';
import { SelectField, TextArea, TextField } from '../components/Field';
import { Outcome } from '../components/Notice';
import { useAction } from '../hooks';
import type { Endpoint, TransformPreview } from '../types';

/**
 * The webhook card's delivery rules: which events make a delivery (a filter on event data), how the body is
 * reshaped (a preset or a JSONata expression, tried on a recent event before saving) and the endpoint's own retry
 * delays. The server checks each again on save; these checks only give the answer before the round trip.
 */

type Filter = NonNullable<Endpoint['filter']>;
type Transform = NonNullable<Endpoint['transform']>;

const OPERATORS = [
  { value: '$eq', label: 'is' },
  { value: '$ne', label: 'is not' },
  { value: '$in', label: 'is one of' },
  { value: '$nin', label: 'is none of' },
  { value: '$gte', label: 'is at least' },
  { value: '$gt', label: 'is above' },
  { value: '$lte', label: 'is at most' },
  { value: '$lt', label: 'is below' },
  { value: '$exists', label: 'is present' },
  { value: '!$exists', label: 'is absent' },
];

/** Fields every complaint event carries, offered as suggestions; any field of the event's data may be typed. */
const SUGGESTED_FIELDS = ['escalation_level', 'priority', 'complaint_category', 'status', 'stage', 'escalatr_id'];

export interface FilterRow {
  field: string;
  op: string;
  value: string;
}

export interface RulesForm {
  filter: FilterRow[];
  transformMode: 'none' | 'qlar' | 'jsonata';
  jsonata: string;
  /** Delays as typed (`30s, 5m, 2h`); empty: the server's schedule. */
  retryDelays: string;
}

type Scalar = string | number | boolean | null;

/** Text as the value it most likely means: numbers and true/false as such, anything else as text. */
function scalarOf(text: string): Scalar {
  const t = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  if (t === 'null') return null;
  return t;
}

const textOf = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function rowsOf(filter: Endpoint['filter'] | undefined): FilterRow[] {
  if (!filter) return [];
  const rows: FilterRow[] = [];
  for (const [field, condition] of Object.entries(filter)) {
    if (condition === null || typeof condition !== 'object') {
      rows.push({ field, op: '$eq', value: textOf(condition) });
      continue;
    }
    for (const [op, operand] of Object.entries(condition)) {
      if (op === '$exists') rows.push({ field, op: operand ? '$exists' : '!$exists', value: '' });
      else if (Array.isArray(operand)) rows.push({ field, op, value: operand.map(textOf).join(', ') });
      else rows.push({ field, op, value: textOf(operand) });
    }
  }
  return rows;
}

const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,4}$/;

/** The filter the rows make (rows on one field combine), or the first problem found. */
function filterOf(rows: FilterRow[]): { filter: Filter | null; problem?: string } {
  if (rows.length === 0) return { filter: null };
  const filter: Record<string, Record<string, unknown>> = {};
  for (const [i, row] of rows.entries()) {
    const field = row.field.trim();
    const where = `Condition ${i + 1}`;
    if (!FIELD_RE.test(field)) return { filter: null, problem: `${where}: enter a field name such as priority.` };
    const condition = (filter[field] ??= {});
    const op = row.op === '!$exists' ? '$exists' : row.op;
    if (op in condition) return { filter: null, problem: `${where}: ${field} already has this comparison.` };
    if (op === '$exists') {
      condition.$exists = row.op === '$exists';
    } else if (op === '$in' || op === '$nin') {
      const list = row.value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      if (list.length === 0 || list.length > 100)
        return { filter: null, problem: `${where}: list 1 to 100 values, separated by commas.` };
      condition[op] = list.map(scalarOf);
    } else {
      if (!row.value.trim()) return { filter: null, problem: `${where}: enter a value.` };
      const value = scalarOf(row.value);
      if (op !== '$eq' && op !== '$ne' && typeof value !== 'string' && typeof value !== 'number')
        return { filter: null, problem: `${where}: compare with a number, a level such as L3, or text.` };
      condition[op] = value;
    }
  }
  return { filter: filter as Filter };
}

function transformOf(form: RulesForm): Transform | null {
  if (form.transformMode === 'qlar') return { preset: 'qlar' };
  if (form.transformMode === 'jsonata') return { jsonata: form.jsonata };
  return null;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `[30, 300, 7200]` as `30s, 5m, 2h`. */
function delaysText(seconds: readonly number[] | null | undefined): string {
  if (!seconds) return '';
  return seconds
    .map((s) => {
      for (const unit of ['d', 'h', 'm'] as const) if (s % UNIT_S[unit] === 0) return `${s / UNIT_S[unit]}${unit}`;
      return `${s}s`;
    })
    .join(', ');
}

/** `30s, 5m, 2h` as seconds, within the server's bounds, or the problem. */
function scheduleOf(text: string): { schedule: number[] | null; problem?: string } {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) return { schedule: null };
  if (parts.length > 20) return { schedule: null, problem: 'List at most 20 delays.' };
  const schedule: number[] = [];
  for (const part of parts) {
    const m = /^(\d+)\s*(s|m|h|d)?$/.exec(part);
    if (!m) return { schedule: null, problem: `"${part}" is not a delay such as 30s, 5m or 2h.` };
    const s = Number(m[1]) * UNIT_S[m[2] ?? 's'];
    if (s < 1 || s > 86400) return { schedule: null, problem: 'Each delay is from 1 second to 24 hours.' };
    schedule.push(s);
  }
  if (schedule.reduce((a, b) => a + b, 0) > 7 * 86400)
    return { schedule: null, problem: 'The delays add up to at most 7 days.' };
  return { schedule };
}

export function rulesFormOf(e?: Endpoint): RulesForm {
  const t = e?.transform;
  return {
    filter: rowsOf(e?.filter),
    transformMode: !t ? 'none' : 'preset' in t ? 'qlar' : 'jsonata',
    jsonata: t && 'jsonata' in t ? t.jsonata : '',
    retryDelays: delaysText(e?.retry_schedule),
  };
}

export interface RulesProblems {
  filter?: string;
  transform?: string;
  retryDelays?: string;
}

export function rulesProblems(form: RulesForm): RulesProblems {
  const problems: RulesProblems = {};
  const f = filterOf(form.filter);
  if (f.problem) problems.filter = f.problem;
  if (form.transformMode === 'jsonata' && !form.jsonata.trim())
    problems.transform = 'Enter a JSONata expression, or choose no transformation.';
  const s = scheduleOf(form.retryDelays);
  if (s.problem) problems.retryDelays = s.problem;
  return problems;
}

/** The fields of a create or update body that changed from `saved` (all of them for a new endpoint). */
export function rulesBody(form: RulesForm, saved: RulesForm | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!saved || !same(form.filter, saved.filter)) body.filter = filterOf(form.filter).filter;
  if (!saved || form.transformMode !== saved.transformMode || form.jsonata !== saved.jsonata)
    body.transform = transformOf(form);
  if (!saved || form.retryDelays !== saved.retryDelays) body.retry_schedule = scheduleOf(form.retryDelays).schedule;
  return body;
}

interface Props {
  cardId: string;
  value: RulesForm;
  onChange: (value: RulesForm) => void;
  problems: RulesProblems;
  showErrors: boolean;
}

export function DeliveryRules({ cardId, value, onChange, problems, showErrors }: Props) {
  const preview = useAction();
  const [result, setResult] = useState<TransformPreview | null>(null);
  const set = (patch: Partial<RulesForm>) => onChange({ ...value, ...patch });
  const setRow = (i: number, patch: Partial<FilterRow>) =>
    set({ filter: value.filter.map((row, j) => (j === i ? { ...row, ...patch } : row)) });
  const transform = transformOf(value);
  const listId = `filter-fields-${cardId}`;
  // Open at first when the endpoint has rules; after that the user's own opening and closing is left alone.
  const [initiallyOpen] = useState(
    () => value.filter.length > 0 || value.transformMode !== 'none' || value.retryDelays.trim() !== '',
  );

  const onPreview = async () => {
    if (!transform) return;
    setResult(null);
    const res = await preview.run(() =>
      api.post<TransformPreview>('/api/v1/webhooks/preview-transform', { transform }),
    );
    if (res) setResult(res);
  };

  return (
    <details class="rules" open={initiallyOpen}>
      <summary>Delivery rules: filter, transformation, retries</summary>
      <div class="stack">
        <fieldset class="events">
          <legend>Filter</legend>
          <p class="hint">
            Only events whose data match every condition are delivered; others make no delivery at all. Levels compare
            as levels (L3 is above L2). With no conditions, every subscribed event is delivered.
          </p>
          <datalist id={listId}>
            {SUGGESTED_FIELDS.map((f) => (
              <option key={f} value={f} />
            ))}
          </datalist>
          {value.filter.map((row, i) => (
            <div class="filter-row" key={i} role="group" aria-label={`Condition ${i + 1}`}>
              <div class="field">
                <label for={`${listId}-f${i}`}>Field</label>
                <input
                  id={`${listId}-f${i}`}
                  list={listId}
                  value={row.field}
                  maxLength={100}
                  placeholder="priority"
                  onInput={(e) => setRow(i, { field: (e.currentTarget as HTMLInputElement).value })}
                />
              </div>
              <SelectField label="Comparison" value={row.op} onValue={(op) => setRow(i, { op })} options={OPERATORS} />
              {row.op !== '$exists' && row.op !== '!$exists' ? (
                <TextField
                  label={row.op === '$in' || row.op === '$nin' ? 'Values (comma-separated)' : 'Value'}
                  value={row.value}
                  onValue={(v) => setRow(i, { value: v })}
                  placeholder={row.op === '$in' || row.op === '$nin' ? 'high, critical' : 'L3'}
                  maxLength={1000}
                />
              ) : (
                <span />
              )}
              <button
                type="button"
                class="btn btn-quiet align-end"
                aria-label={`Remove condition ${i + 1}`}
                onClick={() => set({ filter: value.filter.filter((_, j) => j !== i) })}
              >
                Remove
              </button>
            </div>
          ))}
          <button
            type="button"
            class="btn"
            disabled={value.filter.length >= 20}
            onClick={() => set({ filter: [...value.filter, { field: '', op: '$eq', value: '' }] })}
          >
            Add condition
          </button>
          {problems.filter && showErrors && (
            <p class="field-error" role="alert">
              {problems.filter}
            </p>
          )}
        </fieldset>

        <fieldset class="events">
          <legend>Transformation</legend>
          <SelectField
            label="Body sent"
            value={value.transformMode}
            onValue={(v) => {
              setResult(null);
              set({ transformMode: v as RulesForm['transformMode'] });
            }}
            options={[
              { value: 'none', label: 'The event as stored' },
              { value: 'qlar', label: 'Escalation guide lifecycle payload (preset qlar)' },
              { value: 'jsonata', label: 'A JSONata expression' },
            ]}
            hint={
              value.transformMode === 'qlar'
                ? 'For endpoints subscribed to complaint.created, claimed, completed and released only.'
                : 'Signatures always cover the bytes actually sent.'
            }
          />
          {value.transformMode === 'jsonata' && (
            <TextArea
              label="JSONata expression"
              value={value.jsonata}
              onValue={(v) => {
                setResult(null);
                set({ jsonata: v });
              }}
              rows={5}
              maxLength={10000}
              placeholder={'{ "ticket": data.escalatr_id, "level": data.escalation_level }'}
              hint="Runs on the event body ({id, event, timestamp, data}); no I/O, at most 50 ms."
              error={showErrors ? problems.transform : undefined}
            />
          )}
          {transform && (
            <div class="btn-row">
              <button
                type="button"
                class="btn"
                onClick={onPreview}
                disabled={preview.busy || (value.transformMode === 'jsonata' && !value.jsonata.trim())}
              >
                {preview.busy ? 'Trying…' : 'Preview on your latest event'}
              </button>
            </div>
          )}
          <Outcome error={preview.error} />
          {result && (
            <div class="preview" aria-live="polite">
              <p class="muted small">
                On <span class="mono">{result.event}</span>
                {result.event_id ? (
                  <>
                    {' '}
                    (<span class="mono">{result.event_id}</span>)
                  </>
                ) : (
                  ' (a sample: no event yet)'
                )}
                :{' '}
                {result.body === null
                  ? 'nothing would be sent for this event.'
                  : `${result.bytes} bytes would be sent.`}
              </p>
              {result.body !== null && (
                <pre class="excerpt" aria-label="Transformed body">
                  {JSON.stringify(result.output, null, 2)}
                </pre>
              )}
            </div>
          )}
        </fieldset>

        <TextField
          label="Retry delays"
          value={value.retryDelays}
          onValue={(v) => set({ retryDelays: v })}
          placeholder="The server's schedule (by default 1m, 5m, 30m, 2h, 6h)"
          maxLength={300}
          error={showErrors ? problems.retryDelays : undefined}
          hint="Wait before each retry after a failed attempt, e.g. 30s, 5m, 2h. Leave empty for the server's schedule."
        />
      </div>
    </details>
  );
}
