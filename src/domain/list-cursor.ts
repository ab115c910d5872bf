import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { AppError } from '../errors.js';

/**
 * A place in a newest-first list: the time and id of the last row a page showed. The next page is the rows before it
 * in list order, read as a range of the list's index: a page a million rows deep costs what the first does, where an
 * offset walks every row before it. The place is a row's own values, not a row to look up, so a cursor still works
 * after its row has been removed, and it names no other company's data: it positions within the caller's own list.
 */
export interface ListPlace {
  time: number;
  id: string;
  /**
   * 'seq': `time` holds an event's seq instead, for a list read in the order of its events (the deliveries of one
   * event name on SQLite). Such a cursor stands only for a place in a list read that way.
   */
  by?: 'seq';
}

/**
 * The form of a row id a feedback or delivery cursor names: a short prefix and base-36 text (newId, feedbackIds),
 * loose enough for rows written in bulk with SQL.
 */
export const ROW_ID = /^[a-z]{2,4}_[a-z0-9]{1,60}$/;

/** The place before a list's first row: a cursor reader's first `cursor`. */
const LIST_START = 'start';

/** Where a cursor page starts: at the start of the list, or after a place. */
export type ListAfter = ListPlace | typeof LIST_START;

/** The cursor text, opaque to clients (base64url) so its form can change with the list's order. */
function encodeListCursor(place: ListPlace): string {
  return Buffer.from(`${place.by === 'seq' ? 's' : ''}${place.time}:${place.id}`).toString('base64url');
}

/** A 400 `invalid_query` naming the cursor, for a cursor the list cannot go on from. */
export const cursorRefused = (why = 'not a cursor this list gave') =>
  new AppError('invalid_query', `invalid query parameter cursor: ${why}`, { parameter: 'cursor' });

/**
 * Where a cursor says to start (`start` or a place); `idPattern` is the list's id form, so a cursor of another list
 * is refused rather than read as a place in this one. A place by seq is accepted only where `bySeq` says the list
 * gives such places.
 */
export function decodeListCursor(cursor: string, idPattern: RegExp, bySeq = false): ListAfter {
  if (cursor === LIST_START) return LIST_START;
  const text = Buffer.from(cursor, 'base64url').toString();
  const seq = bySeq && text.startsWith('s');
  const colon = text.indexOf(':');
  const key = text.slice(seq ? 1 : 0, colon);
  const id = text.slice(colon + 1);
  if (colon < 1 || !/^\d{1,15}$/.test(key) || !idPattern.test(id)) throw cursorRefused();
  return seq ? { time: Number(key), id, by: 'seq' } : { time: Number(key), id };
}

/**
 * The rows after a place in a list ordered by (time, id) descending: a range of every index that ends in the time,
 * with the id deciding only among rows of the same millisecond.
 */
export function beforePlace(place: ListPlace, time: string, id: string): RawBuilder<SqlBool> {
  const [t, i] = [sql.ref(time), sql.ref(id)];
  return sql<SqlBool>`${t} <= ${place.time} and (${t} < ${place.time} or ${i} < ${place.id})`;
}

/**
 * A cursor page from the rows read for it, one more than the page when another page follows: the page, and the
 * cursor of the next (null on the last page).
 */
export function cursorPage<T>(
  rows: T[],
  limit: number,
  placeOf: (row: T) => ListPlace,
): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: encodeListCursor(placeOf(page[limit - 1])) };
}
