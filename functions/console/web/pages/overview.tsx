import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useI18n } from '../i18n.tsx';
import { href, navigate, type Route } from '../router.ts';
import { PLATFORMS, STATUSES, type CredentialPage, type CredentialStatus, type Status } from '../types.ts';
import { ErrorBox, Loading, PageTitle, StatusBadge, STATUS_SYMBOL, useAsync } from '../ui.tsx';

export const PAGE_SIZE = 50;

interface Filters {
  q: string;
  tenant: string;
  platform: string;
  status: string;
}

function filtersOf(route: Route): Filters {
  const g = (k: string) => route.query.get(k) ?? '';
  return { q: g('q'), tenant: g('tenant'), platform: g('platform'), status: g('status') };
}

const PLATFORM_TITLES: Record<string, { fr: string; en: string }> = {
  fla: { fr: 'Federal Learning Account (FLA)', en: 'Federal Learning Account (FLA)' },
  'chorus-piste': { fr: 'Chorus Pro (API via PISTE)', en: 'Chorus Pro (API through PISTE)' },
  'chorus-edi': { fr: 'Chorus Pro (EDI)', en: 'Chorus Pro (EDI)' },
  opco: { fr: 'OPCO (Convergence CFA)', en: 'OPCO (Convergence CFA)' },
  'cegid-cfe': { fr: 'Cegid File Exchange', en: 'Cegid File Exchange' },
};
export const platformName = (p: string, lang: 'fr' | 'en') => PLATFORM_TITLES[p]?.[lang] ?? p;

export function ExpiryCell({ item }: { item: CredentialStatus }) {
  const i = useI18n();
  if (!item.expires_at) return <span class="muted">—</span>;
  return (
    <>
      <span>{i.date(item.expires_at)}</span>
      {item.days_left !== null && <span class="sub">{i.days(item.days_left)}</span>}
      {item.status === 'expiring' && item.threshold !== null && <span class="sub">{i.t('threshold', { n: item.threshold })}</span>}
      {item.what && <span class="sub muted">{i.text(item.what)}</span>}
    </>
  );
}

export function Overview({ route }: { route: Route }) {
  const i = useI18n();
  const { t } = i;
  const filters = filtersOf(route);
  const key = JSON.stringify(filters);
  // Cursors of the pages before this one: the API pages forward only.
  const [cursors, setCursors] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  useEffect(() => {
    setCursors([]);
    setCursor(undefined);
  }, [key]);
  const [page, reload] = useAsync<CredentialPage>(
    () => api.credentials({ ...filters, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }),
    [key, cursor],
  );
  const [tenants] = useAsync(() => api.tenants(), []);
  const [q, setQ] = useState(filters.q);
  useEffect(() => setQ(filters.q), [filters.q]);
  const timer = useRef<number | undefined>(undefined);

  const apply = (change: Partial<Filters>) => {
    const next = { ...filters, ...change };
    navigate(href([], { q: next.q, tenant: next.tenant, platform: next.platform, status: next.status }), true);
  };
  const onSearch = (value: string) => {
    setQ(value);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => apply({ q: value }), 250);
  };

  const data = page.state === 'done' ? page.value : undefined;
  const counts = data?.counts;
  const start = cursors.length * PAGE_SIZE;
  const anyFilter = filters.q || filters.tenant || filters.platform || filters.status;

  return (
    <>
      <PageTitle>{t('overview.title')}</PageTitle>
      <section aria-labelledby="counts-title">
        <h2 id="counts-title" class="visually-hidden">{t('overview.counts')}</h2>
        <ul class="counts">
          {(['total', ...STATUSES] as const).map((s) => {
            const n = counts ? counts[s] : undefined;
            const pressed = s === 'total' ? filters.status === '' : filters.status === s;
            const label = s === 'total' ? t('status.total') : i.status(s);
            return (
              <li key={s}>
                <button
                  type="button"
                  class={`count count-${s}`}
                  aria-pressed={pressed}
                  aria-label={t('overview.filter.count', { status: label, n: n ?? '…' })}
                  onClick={() => apply({ status: s === 'total' ? '' : s })}
                >
                  <span class="count-n">{n ?? '…'}</span>
                  <span class="count-label">
                    {s !== 'total' && <span aria-hidden="true" class="badge-symbol">{STATUS_SYMBOL[s as Status]}</span>}
                    {label}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      </section>

      <form class="filters" role="search" aria-label={t('overview.filters')} onSubmit={(e) => { e.preventDefault(); apply({ q }); }}>
        <div class="field">
          <label for="f-q">{t('overview.search')}</label>
          <input id="f-q" type="search" value={q} placeholder={t('overview.search.hint')} onInput={(e) => onSearch(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="f-tenant">{t('overview.tenant')}</label>
          <select id="f-tenant" value={filters.tenant} onChange={(e) => apply({ tenant: e.currentTarget.value })}>
            <option value="">{t('overview.any')}</option>
            {tenants.state === 'done' && tenants.value.items.map((x) => <option key={x.id} value={x.id}>{x.name} ({x.id})</option>)}
            {filters.tenant && (tenants.state !== 'done' || !tenants.value.items.some((x) => x.id === filters.tenant)) && (
              <option value={filters.tenant}>{filters.tenant}</option>
            )}
          </select>
        </div>
        <div class="field">
          <label for="f-platform">{t('overview.platform')}</label>
          <select id="f-platform" value={filters.platform} onChange={(e) => apply({ platform: e.currentTarget.value })}>
            <option value="">{t('overview.any')}</option>
            {PLATFORMS.map((p) => <option key={p} value={p}>{platformName(p, i.lang)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="f-status">{t('overview.status')}</label>
          <select id="f-status" value={filters.status} onChange={(e) => apply({ status: e.currentTarget.value })}>
            <option value="">{t('overview.any')}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{i.status(s)}</option>)}
          </select>
        </div>
        {anyFilter && (
          <div class="field field-action">
            <button type="button" class="link-button" onClick={() => { setQ(''); navigate(href([]), true); }}>{t('overview.clear')}</button>
          </div>
        )}
      </form>

      {page.state === 'error' && <ErrorBox error={page.error} retry={reload} />}
      {page.state === 'loading' && <Loading />}
      {data && (
        <>
          <p class="muted" role="status">{t('overview.caption', { n: data.matching })}</p>
          {data.items.length === 0 ? (
            <p>{t('overview.empty')}</p>
          ) : (
            <div class="table-wrap">
              <table class="grid">
                <caption class="visually-hidden">{t('overview.caption', { n: data.matching })}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('col.tenant')}</th>
                    <th scope="col">{t('col.credential')}</th>
                    <th scope="col">{t('col.platform')}</th>
                    <th scope="col">{t('col.environment')}</th>
                    <th scope="col">{t('col.status')}</th>
                    <th scope="col">{t('col.expires')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((c, n) => {
                    const first = n === 0 || data.items[n - 1]?.tenant !== c.tenant;
                    return (
                      <tr key={`${c.tenant}/${c.credential}`} class={first ? 'group-start' : undefined}>
                        <td>
                          <span class={first ? undefined : 'repeat'}>{c.tenant_name ?? c.tenant}</span>
                          <span class="sub mono">{c.tenant}</span>
                        </td>
                        <th scope="row" class="cell-credential">
                          <a href={href(['credentials', c.tenant, c.credential])}>{c.credential}</a>
                        </th>
                        <td>{i.text(c.platform_title) || c.platform}</td>
                        <td>{c.environment}</td>
                        <td><StatusBadge status={c.status} /></td>
                        <td><ExpiryCell item={c} /></td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {(cursors.length > 0 || data.next_cursor) && (
            <nav class="pager" aria-label={t('pager.label')}>
              <button
                type="button"
                disabled={cursors.length === 0}
                onClick={() => {
                  const prev = cursors.slice(0, -1);
                  setCursors(prev);
                  setCursor(cursors[cursors.length - 1] || undefined);
                }}
              >
                ← {t('pager.prev')}
              </button>
              <span>{t('pager.range', { from: start + 1, to: start + data.items.length, n: data.matching })}</span>
              <button
                type="button"
                disabled={!data.next_cursor}
                onClick={() => {
                  setCursors([...cursors, cursor ?? '']);
                  setCursor(data.next_cursor ?? undefined);
                }}
              >
                {t('pager.next')} →
              </button>
            </nav>
          )}
        </>
      )}
    </>
  );
}
