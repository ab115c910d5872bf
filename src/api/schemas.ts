import { Type, type TSchema } from '@sinclair/typebox';

/** `{ success: true, data }` — every answer's envelope. */
export const Ok = <T extends TSchema>(data: T) => Type.Object({ success: Type.Literal(true), data });

/** Lists add page, limit and total beside the data. */
export const OkList = <T extends TSchema>(item: T) =>
  Type.Object({
    success: Type.Literal(true),
    page: Type.Integer(),
    limit: Type.Integer(),
    total: Type.Integer(),
    data: Type.Array(item),
  });

export const ErrorResponse = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorResponse' },
);

export const ok = <T>(data: T) => ({ success: true as const, data });

/** `page` ≥ 1 (default 1), `limit` 1–100 (default 25), as the seed says. Query strings arrive as text. */
export const PageQuery = {
  page: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 1,
      description: 'Page number, starting at 1 (default 1).',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: 25, description: 'Items per page, 1–100 (default 25).' }),
  ),
};

export const EscalatrIdParam = Type.Object({
  id: Type.String({ pattern: '^ESC-[A-Z]{2,8}-\\d{6}-\\d{5,}$', maxLength: 40 }),
});

export const NonEmpty = (max: number, description?: string) =>
  Type.String({ minLength: 1, maxLength: max, pattern: '\\S', description });
