import { useEffect } from 'preact/hooks';
import { api, query } from '../api';
import { Badge } from '../components/Badge';
import { SelectField } from '../components/Field';
import { Notice } from '../components/Notice';
import { Pagination } from '../components/Pagination';
import { ESCALATION_LEVELS, STAGES, STATUSES } from '../catalog';
import { formatDate, formatMoney } from '../format';
import { useAsync } from '../hooks';
import { Link, setSearch, useLocation } from '../router';
import type { ComplaintSummary } from '../types';

const LIMIT = 25;
const all = (label: string, values: string[]) => [{ value: '', label }, ...values.map((v) => ({ value: v, label: v }))];

/** The complaint list: filters and page live in the URL, so reload and back keep them. */
export function ComplaintsPage() {
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const stage = search.get('stage') ?? '';
  const level = search.get('escalation_level') ?? '';
  const assignee = search.get('assignee') ?? '';
  const flagged = search.get('flagged') ?? '';
  const page = Math.max(1, Number(search.get('page')) || 1);
  useEffect(() => {
    document.title = 'Complaints · Escalatr';
  }, []);

  const list = useAsync(
    () =>
      api.list<ComplaintSummary>(
        `/api/v1/complaints${query({ status, stage, escalation_level: level, assignee, flagged, page, limit: LIMIT })}`,
      ),
    [status, stage, level, assignee, flagged, page],
  );
  const filter = (key: string) => (value: string) => setSearch({ [key]: value, page: null });

  return (
    <section class="page" aria-labelledby="complaints-title">
      <div class="page-head">
        <h1 id="complaints-title">Complaints</h1>
        <button type="button" class="btn" onClick={() => list.reload()} disabled={list.loading}>
          Refresh
        </button>
      </div>
      <form class="filters" role="search" aria-label="Filter complaints" onSubmit={(e) => e.preventDefault()}>
        <SelectField label="Status" value={status} onValue={filter('status')} options={all('All statuses', STATUSES)} />
        <SelectField label="Stage" value={stage} onValue={filter('stage')} options={all('All stages', STAGES)} />
        <SelectField
          label="Escalation level"
          value={level}
          onValue={filter('escalation_level')}
          options={all('All levels', ESCALATION_LEVELS)}
        />
        <SelectField
          label="Assignee"
          value={assignee}
          onValue={filter('assignee')}
          options={[
            { value: '', label: 'Anyone' },
            { value: 'me', label: 'Mine' },
            { value: 'none', label: 'Unassigned' },
          ]}
        />
        <SelectField
          label="Breach flag"
          value={flagged}
          onValue={filter('flagged')}
          options={[
            { value: '', label: 'Flagged or not' },
            { value: 'true', label: 'Flagged' },
            { value: 'false', label: 'Not flagged' },
          ]}
        />
        {(status || stage || level || assignee || flagged) && (
          <button
            type="button"
            class="btn btn-quiet align-end"
            onClick={() =>
              setSearch({
                status: null,
                stage: null,
                escalation_level: null,
                assignee: null,
                flagged: null,
                page: null,
              })
            }
          >
            Clear filters
          </button>
        )}
      </form>
      {list.error && <Notice kind="error">{list.error}</Notice>}
      <div class="card flush">
        <div class="table-wrap">
          <table class="table" aria-busy={list.loading}>
            <caption class="sr-only">Complaints, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Complaint</th>
                <th scope="col">Category</th>
                <th scope="col">Status</th>
                <th scope="col">Stage</th>
                <th scope="col">Level</th>
                <th scope="col">Priority</th>
                <th scope="col" class="num">
                  Amount
                </th>
                <th scope="col">Filed</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.data.map((c) => (
                <tr key={c.escalatr_id}>
                  <td>
                    <Link href={`/complaints/${encodeURIComponent(c.escalatr_id)}`} class="mono strong">
                      {c.escalatr_id}
                    </Link>
                  </td>
                  <td>{c.complaint_category}</td>
                  <td>
                    <Badge value={c.status} />
                    {c.is_overdue && <Badge value="Overdue" tone="danger" />}
                  </td>
                  <td>{c.stage}</td>
                  <td>{c.escalation_level}</td>
                  <td>
                    <Badge value={c.priority} />
                  </td>
                  <td class="num">{formatMoney(c.amount_involved, c.currency)}</td>
                  <td class="nowrap">{formatDate(c.created_at)}</td>
                </tr>
              ))}
              {list.data && list.data.data.length === 0 && (
                <tr>
                  <td colSpan={8} class="empty">
                    {status || stage || level || assignee || flagged
                      ? 'No complaints match these filters.'
                      : 'No complaints yet.'}
                  </td>
                </tr>
              )}
              {!list.data && list.loading && (
                <tr>
                  <td colSpan={8} class="empty">
                    Loading…
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        {list.data && (
          <Pagination
            label="Complaints"
            page={list.data.page}
            limit={list.data.limit}
            total={list.data.total}
            onPage={(p) => setSearch({ page: p })}
          />
        )}
      </div>
    </section>
  );
}
