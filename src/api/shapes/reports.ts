import { Type, type Static } from '@sinclair/typebox';
import { ESCALATION_LEVELS } from '../../domain/lifecycle.js';
import { MAX_REPORT_DAYS, type SlaReport } from '../../domain/sla-report.js';
import type { Expect, SameKeys } from './check.js';
import { Nullable, StringEnum } from '../schemas.js';

const Day = (description: string) => Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', maxLength: 10, description });

export const SlaReportQuery = Type.Object(
  {
    from: Day('First day of the range (UTC), YYYY-MM-DD'),
    to: Day(`Last day of the range (UTC, inclusive), YYYY-MM-DD; at most ${MAX_REPORT_DAYS} days after \`from\``),
  },
  { additionalProperties: false },
);

const attainment = {
  met: Type.Integer({ description: 'Windows ended by a staff answer before their due time' }),
  breached: Type.Integer({ description: 'Windows that ran out (or were answered after their due time)' }),
  percent: Nullable(Type.Number({ description: 'met / (met + breached) × 100, one decimal; null when none ended' })),
};

const Percentiles = (what: string) =>
  Type.Object(
    {
      count: Type.Integer({ description: `Complaints ${what} in the range` }),
      p50_s: Nullable(Type.Number({ description: 'Median, in seconds of wall-clock time' })),
      p90_s: Nullable(Type.Number({ description: '90th percentile (nearest rank), seconds of wall-clock time' })),
      p95_s: Nullable(Type.Number({ description: '95th percentile (nearest rank), seconds of wall-clock time' })),
    },
    {
      description:
        `From filing to the event, over complaints ${what} in the range; wall-clock time (not business hours), ` +
        'so figures compare across calendars. Null percentiles when there are none.',
    },
  );

export const SlaReportSchema = Type.Object(
  {
    from: Type.String(),
    to: Type.String(),
    attainment_by_level: Type.Array(Type.Object({ level: StringEnum(ESCALATION_LEVELS), ...attainment }), {
      description: 'Response windows that ended in the range (met or breached), by the level they ran at',
    }),
    attainment_by_category: Type.Array(Type.Object({ category: Type.String(), ...attainment }), {
      description: 'The same windows by complaint category',
    }),
    first_response: Percentiles('first answered by staff'),
    resolution: Percentiles('resolved'),
    backlog: Type.Array(
      Type.Object({
        date: Type.String({ description: 'The day (UTC)' }),
        by_level: Type.Object(Object.fromEntries(ESCALATION_LEVELS.map((l) => [l, Type.Integer()])), {
          description: "Complaints open at the day's end (UTC midnight), by the level they were at",
        }),
      }),
      { description: 'One entry per day of the range' },
    ),
  },
  { title: 'SlaReport' },
);

type _ShapeChecks = [Expect<SameKeys<SlaReport, Static<typeof SlaReportSchema>>>];
