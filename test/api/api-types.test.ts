import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, renderApiTypes } from '../../scripts/api-types.js';

describe("the dashboard's API types", () => {
  it('are generated from the server’s schemas and up to date (run `npm run api-types` after changing a shape)', async () => {
    const expected = await renderApiTypes();
    expect(expected).toContain('export interface ComplaintDetail {');
    expect(readFileSync(API_TYPES_FILE, 'utf8')).toBe(expected);
  });
});
