import { useEffect } from 'preact/hooks';
import { api, query } from '../../api';
import { Badge } from '../../components/Badge';
import { Notice } from '../../components/Notice';
import { Pagination } from '../../components/Pagination';
import { formatDate, formatMoney } from '../../format';
import { useAsync } from '../../hooks';
import { Link, setSearch, useLocation } from '../../router';
import type { ComplaintSummary } from '../../types';
import { complaintPath, newComplaintPath } from '../session';

const PAGE_SIZE = 20;

/** The consumer's complaints, newest first, as cards that read well on a phone. */
export function MyComplaintsPage() {
  const { search } = useLocation();
  const page = Math.max(1, Number(search.get('page')) || 1);
  const list = useAsync(
    () => api.list<ComplaintSummary>(`/api/consumer/v1/complaints${query({ page, limit: PAGE_SIZE })}`),
    [page],
  );
  useEffect(() => {
    document.title = 'My complaints · Escalatr';
  }, []);

  return (
    <section class="page" aria-labelledby="mine-title">
      <div class="page-head">
        <h1 id="mine-title">My complaints</h1>
        <Link href={newComplaintPath} class="btn btn-primary">
          File a complaint
        </Link>
      </div>
      {list.error && <Notice kind="error">{list.error}</Notice>}
      {!list.data && !list.error && <p class="muted">Loading…</p>}
      {list.data && list.data.data.length === 0 && (
        <div class="card">
          <p>You have not filed any complaints yet.</p>
          <Link href={newComplaintPath}>File your first complaint</Link>
        </div>
      )}
      {list.data && list.data.data.length > 0 && (
        <>
          <ul class="portal-cards">
            {list.data.data.map((c) => (
              <li key={c.escalatr_id} class="card portal-card">
                <div class="portal-card-head">
                  <Link href={complaintPath(c.escalatr_id)} class="mono strong">
                    {c.escalatr_id}
                  </Link>
                  <Badge value={c.status} />
                </div>
                <div class="head-meta">
                  <span>{c.complaint_category}</span>
                  <span aria-hidden="true">·</span>
                  <span>Level {c.escalation_level}</span>
                  <span aria-hidden="true">·</span>
                  <span>{c.stage}</span>
                  {c.is_overdue && <Badge value="Overdue" tone="danger" />}
                </div>
                <div class="muted small">
                  Filed {formatDate(c.created_at)}
                  {c.amount_involved != null && <> · {formatMoney(c.amount_involved, c.currency)}</>}
                </div>
              </li>
            ))}
          </ul>
          <Pagination
            page={list.data.page}
            limit={list.data.limit}
            total={list.data.total}
            onPage={(p) => setSearch({ page: p === 1 ? null : p })}
            label="Complaint pages"
          />
        </>
      )}
    </section>
  );
}
