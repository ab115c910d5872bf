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
}

/** The cursor text, opaque to clients (base64url) so its form can change with the list's order. */
export function encodeListCursor(place: ListPlace): string {
  return Buffer.from(`${place.time}:${place.id}`).toString('base64url');
}

/**
 * The place a cursor stands for; `idPattern` is the list's id form, so a cursor of another list is refused rather
 * than read as a place in this one.
 */
export function decodeListCursor(cursor: string, idPattern: RegExp): ListPlace {
  const text = Buffer.from(cursor, 'base64url').toString();
  const colon = text.indexOf(':');
  const time = Number(text.slice(0, colon));
  const id = text.slice(colon + 1);
  if (colon < 1 || !/^\d{1,15}$/.test(text.slice(0, colon)) || !idPattern.test(id))
    throw new AppError('invalid_query', 'invalid query parameter cursor: not a cursor this list gave', {
      parameter: 'cursor',
    });
  return { time, id };
}
