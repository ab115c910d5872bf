import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ESCALATR_ID_PATTERN } from '../domain/complaints.js';
import { type ListAfter } from '../domain/list-cursor.js';
import { AppError } from '../errors.js';
import { COUNTED_AHEAD, type CountedRows } from '../storage/counted-rows.js';

/**
 * The building blocks every route's schema is written with: one way to write an enum, a nullable value, a time, the
 * success envelope and the error envelope. The resource shapes built from them live in ./shapes/.
 */

/** A string limited to a list: one `enum` keyword, so a bad value is reported once, with the allowed values. */
export const StringEnum = <T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

export const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) =>
  Type.Union([schema, Type.Null()], options);

/** An ISO-8601 time as the API writes it (`new Date(ms).toISOString()`). */
export const DateTime = (options: { description?: string } = {}) => Type.String({ format: 'date-time', ...options });

/** `{ success: true, data }`: the envelope of every answer that is not a list. */
export const Ok = <T extends TSchema>(data: T, options: { description?: string; examples?: unknown[] } = {}) =>
  Type.Object({ success: Type.Literal(true), data }, options);

/** Lists add page, limit and total beside the data. */
export const OkList = <T extends TSchema>(item: T, options: { description?: string; examples?: unknown[] } = {}) =>
  Type.Object(
    {
      success: Type.Literal(true),
      page: Type.Integer({ minimum: 1 }),
      limit: Type.Integer({ minimum: 1 }),
      total: Type.Integer({ minimum: 0 }),
      data: Type.Array(item),
    },
    options,
  );

/**
 * The list envelope of a list over a history that grows without bound (deliveries, feedback): its total is counted up
 * to a bound past the page's first row (storage/counted-rows.ts), and `total_exact` says whether more match.
 */
const OkCountedList = <T extends TSchema>(
  item: T,
  options: { title?: string; description?: string; examples?: unknown[] } = {},
) =>
  Type.Object(
    {
      ...OkList(item).properties,
      total: Type.Integer({
        minimum: 0,
        description:
          `Matching rows, counted up to ${COUNTED_AHEAD.toLocaleString('en')} past this page's first: when more ` +
          'match, this is the number counted and total_exact is false. Pages go on past it.',
      }),
      total_exact: Type.Boolean({
        description: `false when more match than total (more than ${COUNTED_AHEAD.toLocaleString('en')} past this page's first)`,
      }),
    },
    options,
  );

/** Wraps a value in the success envelope; the one place the envelope is written in code. */
export const ok = <T>(data: T) => ({ success: true as const, data });

/** Wraps one page of a list in the list envelope. */
export const okList = <T>(page: { page: number; limit: number }, data: T[], total: number) => ({
  success: true as const,
  page: page.page,
  limit: page.limit,
  total,
  data,
});

/** Wraps one page of a list with a counted total (OkCountedList) in its envelope. */
export const okCountedList = <T>(page: { page: number; limit: number }, data: T[], total: CountedRows) => ({
  ...okList(page, data, total.total),
  total_exact: total.exact,
});

/**
 * Sends an answer already written as JSON text (a string with a JSON type goes out as it is, past the serializer
 * Fastify compiles from the route's schema). The route's schema still documents the answer; the contract tests hold
 * the text to it.
 */
export function sendJsonText(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

export const ErrorResponse = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({
      code: Type.String({ description: 'Stable, machine-readable: validation_failed, not_found, …' }),
      message: Type.String({ description: 'For people; may change' }),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse' },
);
export type ErrorBody = Static<typeof ErrorResponse>;

/** `page` ≥ 1 (default 1), `limit` 1–100 (default `defaultLimit`). Query strings arrive as text and are coerced. */
export const pageQuery = (defaultLimit = 25) => ({
  page: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 1,
      description: 'Page number, starting at 1 (default 1).',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 100,
      default: defaultLimit,
      description: `Items per page, 1–100 (default ${defaultLimit}).`,
    }),
  ),
});
export const PageQuery = pageQuery();
export const PageOnlyQuery = Type.Object(PageQuery, { additionalProperties: false });

/** The page a request asks for, with the defaults applied. */
export const pageOf = (q: { page?: number; limit?: number }, defaultLimit = 25) => ({
  page: q.page ?? 1,
  limit: q.limit ?? defaultLimit,
});

/**
 * `cursor` of a list that can be read through (`start`, then each answer's `next_cursor`); `rows` names what it lists.
 */
export const cursorQuery = (rows: string) => ({
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[A-Za-z0-9_-]+$',
      description:
        "`start`, then each answer's `next_cursor`: reads the list through page after page in the same order, and " +
        'the answer carries next_cursor. A page costs the same however deep it is, where a page number walks ' +
        `every one of the ${rows} before it. Not combined with page.`,
    }),
  ),
});

/** `next_cursor` of a list read with `cursor`. */
export const NextCursor = Type.Optional(
  Nullable(
    Type.String({
      description: 'With cursor: the value to pass as cursor for the next page (same filters); null on the last page',
    }),
  ),
);

/** OkCountedList of a list that can be read through with `cursor`: a cursor answer adds `next_cursor`. */
export const OkCursorList = <T extends TSchema>(item: T, options: { title?: string } = {}) =>
  Type.Object({ ...OkCountedList(item).properties, next_cursor: NextCursor }, options);

/**
 * A list answer with the next cursor when the request read by cursor (`after` set). Without one the answer stays as it
 * was, envelope field for field.
 */
export const withNextCursor = <A extends object>(
  answer: A,
  after: ListAfter | undefined,
  nextCursor: string | null | undefined,
) => (after === undefined ? answer : { ...answer, next_cursor: nextCursor ?? null });

/**
 * Refuses a page number beside a cursor (the parameter named `cursorParameter`): a cursor page is positioned by the
 * cursor alone, and a page number beside it would be ambiguous.
 */
export function refusePageWithCursor(cursorParameter: string, cursor: string | undefined, page: number | undefined) {
  if (cursor !== undefined && page !== undefined && page !== 1)
    throw new AppError(
      'invalid_query',
      `invalid query parameter page: page cannot be combined with ${cursorParameter}`,
      { parameter: 'page' },
    );
}

/** Where a list request's cursor starts (undefined without one), read by the list's own `decode`. */
export function listAfter<T>(q: { cursor?: string; page?: number }, decode: (cursor: string) => T): T | undefined {
  if (q.cursor === undefined) return undefined;
  refusePageWithCursor('cursor', q.cursor, q.page);
  return decode(q.cursor);
}

export const EscalatrId = Type.String({ pattern: ESCALATR_ID_PATTERN, maxLength: 40 });
export const EscalatrIdParam = Type.Object({ id: EscalatrId });

/** The ids of a complaint's records (`msg_…`, `evd_…`, `off_…`, `fup_…`, `drf_…`, `soc_…`). */
export const RecordId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z]{2,4}_[a-z0-9]{8,40}$' });

export const NonEmpty = (max: number, description?: string) =>
  Type.String({ minLength: 1, maxLength: max, pattern: '\\S', description });

/** For POST routes whose body is optional: a request without one is validated as `{}`. */
export const emptyBodyAsObject = async (request: FastifyRequest) => {
  if (request.body === undefined || request.body === null) request.body = {};
};
