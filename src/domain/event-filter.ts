/**
 * An endpoint's filter on event data: which events make a delivery to it. A small, documented operator set, checked
 * when the endpoint is saved and applied when an event is written, so a filtered-out event makes no delivery at all.
 *
 *   {"escalation_level": {"$gte": "L3"}, "priority": {"$in": ["high", "critical"]}}
 *
 * Each key names a field of the event's `data` (a dotted path reaches into objects: `"record.level"`); every key
 * must match. A plain value means `$eq`. Operators: `$eq`, `$ne`, `$in`, `$nin`, `$gt`, `$gte`, `$lt`, `$lte`,
 * `$exists`. Escalation levels (`L1` … `L9`) and other values compare as numbers when both sides are numbers, as
 * levels when both are levels, and as text otherwise; an absent field matches only `$ne`, `$nin` and
 * `$exists: false`.
 */

type Scalar = string | number | boolean | null;
interface Condition {
  $eq?: Scalar;
  $ne?: Scalar;
  $in?: Scalar[];
  $nin?: Scalar[];
  $gt?: string | number;
  $gte?: string | number;
  $lt?: string | number;
  $lte?: string | number;
  $exists?: boolean;
}
export type EventFilter = Record<string, Scalar | Condition>;

const OPERATORS = ['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists'] as const;
type Operator = (typeof OPERATORS)[number];

export const FILTER_MAX_FIELDS = 20;
export const FILTER_MAX_LIST = 100;
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,4}$/;
const LEVEL_RE = /^L([1-9])$/;

const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Why `value` is not a usable filter (naming the offending key), or null when it is. */
export function filterProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'must be an object of field conditions';
  const entries = Object.entries(value);
  if (entries.length === 0) return 'must name at least one field (or be null for no filter)';
  if (entries.length > FILTER_MAX_FIELDS) return `may name at most ${FILTER_MAX_FIELDS} fields`;
  for (const [field, condition] of entries) {
    if (!FIELD_RE.test(field)) return `"${field.slice(0, 100)}" is not a field name (letters, digits, _ and dots)`;
    if (isScalar(condition)) {
      if (typeof condition === 'string' && condition.length > 1000)
        return `${field}: values are at most 1000 characters`;
      continue;
    }
    if (typeof condition !== 'object' || Array.isArray(condition))
      return `${field}: must be a value or an operator object`;
    const ops = Object.entries(condition);
    if (ops.length === 0) return `${field}: the operator object is empty`;
    for (const [op, operand] of ops) {
      if (!(OPERATORS as readonly string[]).includes(op))
        return `${field}: unknown operator ${op.slice(0, 20)} (${OPERATORS.join(', ')})`;
      if (op === '$exists') {
        if (typeof operand !== 'boolean') return `${field}: $exists takes true or false`;
      } else if (op === '$in' || op === '$nin') {
        if (!Array.isArray(operand) || operand.length === 0 || operand.length > FILTER_MAX_LIST)
          return `${field}: ${op} takes a list of 1 to ${FILTER_MAX_LIST} values`;
        if (!operand.every(isScalar)) return `${field}: ${op} takes plain values (text, numbers, true, false, null)`;
      } else if (op === '$eq' || op === '$ne') {
        if (!isScalar(operand)) return `${field}: ${op} takes a plain value`;
      } else if (typeof operand !== 'string' && typeof operand !== 'number') {
        return `${field}: ${op} takes a number or text`;
      }
    }
  }
  return null;
}

function fieldOf(data: unknown, path: string): unknown {
  let v: unknown = data;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** -1, 0 or 1; null when the two cannot be ordered (different kinds). */
function order(a: unknown, b: unknown): number | null {
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'string' && typeof b === 'string') {
    const la = LEVEL_RE.exec(a);
    const lb = LEVEL_RE.exec(b);
    if (la && lb) return Math.sign(Number(la[1]) - Number(lb[1]));
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return null;
}

function satisfies(actual: unknown, op: Operator, operand: unknown): boolean {
  switch (op) {
    case '$exists':
      return (actual !== undefined) === operand;
    case '$eq':
      return actual === operand;
    case '$ne':
      return actual !== operand;
    case '$in':
      return (operand as Scalar[]).includes(actual as Scalar);
    case '$nin':
      return !(operand as Scalar[]).includes(actual as Scalar);
    default: {
      const o = order(actual, operand);
      if (o === null) return false;
      return op === '$gt' ? o > 0 : op === '$gte' ? o >= 0 : op === '$lt' ? o < 0 : o <= 0;
    }
  }
}

/** Whether an event's data passes the filter; a filter that fails validation never reaches here. */
export function matchesFilter(filter: EventFilter, data: unknown): boolean {
  for (const [field, condition] of Object.entries(filter)) {
    const actual = fieldOf(data, field);
    if (isScalar(condition)) {
      if (actual !== condition) return false;
      continue;
    }
    for (const [op, operand] of Object.entries(condition)) {
      if (!satisfies(actual, op as Operator, operand)) return false;
    }
  }
  return true;
}
