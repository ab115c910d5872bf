interface Props {
  page: number;
  limit: number;
  total: number;
  /** false when more match than `total`: the list stopped counting there. */
  totalExact?: boolean;
  onPage: (page: number) => void;
  label: string;
}

export function Pagination({ page, limit, total, totalExact = true, onPage, label }: Props) {
  const pages = Math.max(1, Math.ceil(total / Math.max(1, limit)));
  const more = totalExact ? '' : '+';
  const first = total === 0 ? 0 : (page - 1) * limit + 1;
  const last = Math.min(total, page * limit);
  return (
    <nav class="pagination" aria-label={`${label} pages`}>
      <span class="muted">
        {total === 0 ? 'No results' : `${first}–${last} of ${total.toLocaleString('en')}${more}`}
      </span>
      <div class="btn-row">
        <button type="button" class="btn" disabled={page <= 1} onClick={() => onPage(page - 1)}>
          Previous
        </button>
        <span class="muted" aria-current="page">
          Page {page} of {pages.toLocaleString('en')}
          {more}
        </span>
        <button type="button" class="btn" disabled={page >= pages && totalExact} onClick={() => onPage(page + 1)}>
          Next
        </button>
      </div>
    </nav>
  );
}
