import { slaReport, slaReportCsv } from '../../domain/sla-report.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ok, Ok } from '../schemas.js';
import { SlaReportQuery, SlaReportSchema } from '../shapes/reports.js';

const reportInfo =
  'SLA attainment per escalation level and per category, first-response and resolution time percentiles, and the ' +
  'backlog by level at the end of each day, over a range of UTC days (both inclusive), for your company only. ' +
  'Times are wall-clock seconds from filing.';

const rangeErrors = {
  400: 'invalid_range: from or to is not a real date, to is before from, or the range is longer than 366 days',
};

/** The CSV form: one figure a line (section, group, metric, value), as a download. */
const CsvContent = {
  description: 'The report as CSV: a header line, then section,group,metric,value per figure',
  content: { 'text/csv': { schema: { type: 'string' } } },
};

/** `GET /reports/sla` (JSON) and `GET /reports/sla.csv` (the same figures as a CSV download); any key or session. */
export function reportRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Reports'];
    const read = requireCompany(ctx, 'read');

    app.get(
      '/reports/sla',
      {
        onRequest: read,
        config: { errors: rangeErrors },
        schema: {
          tags,
          summary: 'SLA report',
          description: reportInfo,
          querystring: SlaReportQuery,
          response: { 200: Ok(SlaReportSchema) },
        },
      },
      async (request) =>
        ok(await slaReport(ctx.store.db, request.company!.companyId, request.query.from, request.query.to)),
    );

    app.get(
      '/reports/sla.csv',
      {
        onRequest: read,
        config: { errors: rangeErrors },
        schema: {
          tags,
          summary: 'SLA report as CSV',
          description: reportInfo,
          querystring: SlaReportQuery,
          response: { 200: CsvContent },
        },
      },
      async (request, reply) => {
        const { from, to } = request.query;
        const report = await slaReport(ctx.store.db, request.company!.companyId, from, to);
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="sla-report-${from}-to-${to}.csv"`)
          .header('cache-control', 'private, no-store')
          .send(slaReportCsv(report));
      },
    );
  };
}
