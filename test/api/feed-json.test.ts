import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { feedEventOf, type FeedDelivery, type FeedRow } from '../../src/domain/event-feed.js';
import { FeedEventSchema, feedPageJson } from '../../src/api/shapes/events.js';

const ajv = new Ajv({ strict: false });
addFormats.default(ajv);
const validRow = ajv.compile(FeedEventSchema);

const DELIVERY: FeedDelivery = {
  id: 'dlv_0a1b2c3d4e5f6g7h8j9k',
  endpoint_id: 'ep_1',
  destination_id: null,
  status: 'failed',
  attempt_count: 2,
  next_attempt_at: '2026-12-05T10:00:05.000Z',
  last_status_code: 503,
};

/** A body as writeEvent (src/domain/events.ts) writes it. */
const bodyOf = (id: string, data: unknown, event = 'complaint.escalated', timestamp = '2026-12-05T10:00:00.000Z') =>
  JSON.stringify({ id, event, timestamp, data });

const row = (id: string, body: string, deliveries: FeedDelivery[] = []): FeedRow => ({
  id,
  body,
  delivery_status: deliveries.length ? 'failed' : 'none',
  deliveriesJson: JSON.stringify(deliveries),
});

/** What the feed answered before its rows were written from the stored bytes: each body parsed, then written. */
const parsedPage = (rows: FeedRow[], total: number, exact: boolean) => ({
  success: true,
  page: 2,
  limit: 3,
  total,
  total_exact: exact,
  data: rows.map(feedEventOf),
});

describe('the feed page as JSON text', () => {
  const awkward = {
    escalatr_id: 'ESC-VOLT-261205-00001',
    status: 'Escalated',
    quote: 'she said "refund" \\ then left',
    lines: 'one\ntwo\u2028three\u2029',
    unicode: 'Zoë — 東京 🚀',
    lone: 'a\ud800b',
    nested: { list: [1, 2.5, -0, 1e21, null, true, { deep: ['x'] }], empty: {} },
    __proto__key: { ['__proto__']: 1 },
  };

  it('answers the same JSON as parsing each body and writing it again, for any data', () => {
    const rows = [
      row('evt_aaaaaaaa1', bodyOf('evt_aaaaaaaa1', awkward), [
        DELIVERY,
        {
          ...DELIVERY,
          id: 'dlv_2',
          endpoint_id: null,
          destination_id: 'dst_1',
          next_attempt_at: null,
          last_status_code: null,
        },
      ]),
      row('evt_aaaaaaaa2', bodyOf('evt_aaaaaaaa2', {})),
      row('evt_aaaaaaaa3', bodyOf('evt_aaaaaaaa3', { escalatr_id: 'ESC-1', status: 'Open', escalation_level: 'L1' })),
    ];
    const text = feedPageJson({ page: 2, limit: 3 }, { total: 10_003, exact: false }, rows);
    expect(JSON.parse(text)).toEqual(parsedPage(rows, 10_003, false));
    expect(Object.keys(JSON.parse(text))).toEqual(['success', 'page', 'limit', 'total', 'data', 'total_exact']);
    for (const r of JSON.parse(text).data) {
      expect(Object.keys(r)).toEqual(['id', 'event', 'timestamp', 'data', 'delivery_status', 'deliveries']);
      expect(validRow(r), JSON.stringify(validRow.errors)).toBe(true);
    }
    // Lone surrogates stay escaped, as JSON.stringify writes them: the text is well-formed UTF-16 throughout.
    expect(text).toContain('a\\ud800b');
    expect(() => encodeURIComponent(text)).not.toThrow();
  });

  // The form's last check is that the body ends where data does; a key written after data would pass it. Only
  // writeEvent writes bodies, and the feed's tests hold its bodies to exactly these four keys.
  it('carries a body of the stored form byte for byte, and parses any other form', () => {
    // Spacing inside data that JSON.stringify would not write: kept only when the body is carried as it is.
    const spaced =
      '{"id":"evt_bbbbbbbb1","event":"complaint.created","timestamp":"2026-12-05T10:00:00.000Z","data":{"a": 1}}';
    const reordered =
      '{"event":"complaint.created","id":"evt_bbbbbbbb2","timestamp":"2026-12-05T10:00:00.000Z","data":{"a": 1}}';
    const dataFirst =
      '{"data":{"a": 1},"id":"evt_bbbbbbbb3","event":"complaint.created","timestamp":"2026-12-05T10:00:00.000Z"}';
    const noData = '{"id":"evt_bbbbbbbb4","event":"complaint.created","timestamp":"2026-12-05T10:00:00.000Z"}';
    const otherId =
      '{"id":"evt_cccccccc5","event":"complaint.created","timestamp":"2026-12-05T10:00:00.000Z","data":{"a": 1}}';
    const escapedName =
      '{"id":"evt_bbbbbbbb6","event":"complaint.\\u0063reated","timestamp":"2026-12-05T10:00:00.000Z","data":{"a": 1}}';
    const rows = [
      row('evt_bbbbbbbb1', spaced),
      row('evt_bbbbbbbb2', reordered),
      row('evt_bbbbbbbb3', dataFirst),
      row('evt_bbbbbbbb4', noData),
      row('evt_bbbbbbbb5', otherId),
      row('evt_bbbbbbbb6', escapedName),
    ];
    const text = feedPageJson({ page: 1, limit: 25 }, { total: 6, exact: true }, rows);
    expect(text).toContain(`${spaced.slice(0, -1)},"delivery_status":"none","deliveries":[]}`);
    const data = JSON.parse(text).data as Array<Record<string, unknown>>;
    expect(data.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    for (const r of data) {
      expect(Object.keys(r)).toEqual(['id', 'event', 'timestamp', 'data', 'delivery_status', 'deliveries']);
      expect(r.event).toBe('complaint.created');
    }
    expect(data[3].data).toEqual({});
    // Every other form was parsed and written anew, without spacing of its own.
    expect(text.match(/"a": 1/g)).toHaveLength(1);
  });

  it('has next_cursor only on cursor pages, null included', () => {
    const rows = [row('evt_dddddddd1', bodyOf('evt_dddddddd1', { a: 1 }))];
    expect(JSON.parse(feedPageJson({ page: 1, limit: 1 }, { total: 1, exact: true }, rows))).not.toHaveProperty(
      'next_cursor',
    );
    expect(
      JSON.parse(feedPageJson({ page: 1, limit: 1 }, { total: 1, exact: true }, rows, 'evt_dddddddd1')).next_cursor,
    ).toBe('evt_dddddddd1');
    expect(JSON.parse(feedPageJson({ page: 1, limit: 1 }, { total: 0, exact: true }, [], null))).toEqual({
      success: true,
      page: 1,
      limit: 1,
      total: 0,
      total_exact: true,
      data: [],
      next_cursor: null,
    });
  });
});
