import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type AuditQuery } from '../api.ts';
import { useI18n, type I18n, type Key } from '../i18n.tsx';
import { href, navigate, type Route } from '../router.ts';
import type { Ok } from '../types.ts';
import { ErrorBox, Loading, PageTitle, useAsync } from '../ui.tsx';

type AuditPage = Ok<'/v1/admin/audit', 'get'>;
export type AuditRecord = AuditPage['items'][number];
type Outcome = AuditRecord['outcome'];

export const AUDIT_PAGE_SIZE = 50;
/** The periods offered, as the API's `since` takes them; any other in the URL falls back to the default. */
export const PERIODS = ['24h', '7d', '30d', '400d'] as const;
type Period = (typeof PERIODS)[number];
const DEFAULT_PERIOD: Period = '7d';

interface Filters {
  tenant: string;
  app: string;
  period: Period;
}

function filtersOf(route: Route): Filters {
  const g = (k: string) => route.query.get(k) ?? '';
  const period = g('period');
  return { tenant: g('tenant'), app: g('app'), period: (PERIODS as readonly string[]).includes(period) ? (period as Period) : DEFAULT_PERIOD };
}

/** The hash of the audit page with these filters: the default period stays out of the URL. */
export const auditHref = (f: Partial<Filters>) =>
  href(['audit'], { tenant: f.tenant, app: f.app, period: f.period === DEFAULT_PERIOD ? undefined : f.period });

/** A symbol per outcome, so that it never rests on colour alone. */
const OUTCOME_SYMBOL: Record<Outcome, string> = { ok: '✓', refused: '⊘', error: '✕' };

/** Admin changes the console can name; others show their operation as recorded. */
const OPERATIONS = new Set(['tenants.add', 'tenants.update', 'apps.add', 'apps.rotate', 'certificate.upload', 'credentials.set']);
const SYSTEM_FUNCTIONS = new Set(['intake', 'expiry', 'health']);

function eventName(i: I18n, r: AuditRecord): string {
  const op = r.details?.['operation'];
  if (r.type === 'admin_change' && typeof op === 'string' && OPERATIONS.has(op)) return i.t(`audit.op.${op}` as Key);
  return i.t(`audit.type.${r.type}` as Key);
}

/**
 * Times with seconds, in the browser's time zone and, when it speaks the chosen
 * language, its own regional format (fr-BE, en-US…).
 */
function timeFormat(lang: 'fr' | 'en'): Intl.DateTimeFormat {
  const own = (navigator.languages ?? [navigator.language]).find((l) => l.toLowerCase().split('-')[0] === lang);
  const fallback = lang === 'fr' ? 'fr-FR' : 'en-GB';
  try {
    return new Intl.DateTimeFormat(own ?? fallback, { dateStyle: 'medium', timeStyle: 'medium' });
  } catch {
    return new Intl.DateTimeFormat(fallback, { dateStyle: 'medium', timeStyle: 'medium' });
  }
}

function Who({ r, me }: { r: AuditRecord; me: { sub: string; name: string } | undefined }) {
  const { t } = useI18n();
  const a = r.actor;
  if (a.type === 'operator') {
    const mine = me !== undefined && me.sub === a.id;
    return (
      <>
        <span>{t('audit.actor.operator')}</span>
        {mine ? <span class="sub" title={a.id}>{t('audit.actor.you', { who: me.name })}</span> : <span class="sub mono wrap">{a.id}</span>}
      </>
    );
  }
  if (a.type === 'system') {
    return (
      <>
        <span>{t('audit.actor.system')}</span>
        <span class="sub">{SYSTEM_FUNCTIONS.has(a.id) ? t(`audit.system.${a.id}` as Key) : <span class="mono">{a.id}</span>}</span>
      </>
    );
  }
  if (a.type === 'cli') return <span>{t('audit.actor.cli')}</span>;
  return (
    <>
      <span>{t(`audit.actor.${a.type}` as Key)}</span>
      <span class="sub mono wrap">{a.id}</span>
    </>
  );
}

function Target({ r }: { r: AuditRecord }) {
  if (r.tenant && r.credential) {
    return (
      <a href={href(['credentials', r.tenant, r.credential])} class="mono">
        {r.tenant} / {r.credential}
      </a>
    );
  }
  if (r.tenant) return <span class="mono">{r.tenant}</span>;
  if (r.credential) return <span class="mono">{r.credential}</span>;
  return <span class="muted">—</span>;
}

function OutcomeCell({ r }: { r: AuditRecord }) {
  const { t } = useI18n();
  return (
    <>
      <span class={`badge badge-${r.outcome === 'ok' ? 'ok' : r.outcome}`}>
        <span class="badge-symbol" aria-hidden="true">{OUTCOME_SYMBOL[r.outcome]}</span>
        {t(`audit.outcome.${r.outcome}` as Key)}
      </span>
      {r.code && <span class="sub mono">{r.code}</span>}
      {r.cached !== undefined && <span class="sub">{r.cached ? t('audit.cached') : t('audit.uncached')}</span>}
    </>
  );
}

function Details({ r }: { r: AuditRecord }) {
  const { t } = useI18n();
  const entries = Object.entries(r.details ?? {});
  if (entries.length === 0) return <span class="muted">—<span class="visually-hidden"> {t('audit.details.none')}</span></span>;
  return (
    <ul class="chips">
      {entries.map(([k, v]) => (
        <li key={k} class="chip mono"><span class="chip-key">{k}</span>=<span class="chip-value">{String(v)}</span></li>
      ))}
    </ul>
  );
}

interface More {
  key: string;
  items: AuditRecord[];
  cursor: string | undefined;
}

export function Audit({ route }: { route: Route }) {
  const i = useI18n();
  const { t } = i;
  const filters = filtersOf(route);
  const key = JSON.stringify(filters);
  const query: AuditQuery = {
    ...(filters.tenant ? { tenant: filters.tenant } : {}),
    ...(filters.app ? { app: filters.app } : {}),
    since: filters.period,
    limit: AUDIT_PAGE_SIZE,
  };
  // The key travels with the page, so that a page of other filters is never shown as this one's.
  const [first, reload] = useAsync(() => api.audit(query).then((page) => ({ key, page })), [key]);
  const [more, setMore] = useState<More | undefined>(undefined);
  const [moreState, setMoreState] = useState<{ state: 'idle' | 'loading' } | { state: 'error'; error: unknown }>({ state: 'idle' });
  const [tenants] = useAsync(() => api.tenants(), []);
  const [apps] = useAsync(() => api.apps(), []);
  const [me] = useAsync(() => api.me(), []);
  const current = useRef(key);
  current.current = key;
  const focusRow = useRef<number | undefined>(undefined);
  const fmt = useMemo(() => timeFormat(i.lang), [i.lang]);

  useEffect(() => {
    setMore(undefined);
    setMoreState({ state: 'idle' });
  }, [key]);

  const page = first.state === 'done' && first.value.key === key ? first.value.page : undefined;
  const extra = more?.key === key ? more : undefined;
  const items = page ? [...page.items, ...(extra?.items ?? [])] : [];
  const cursor = extra ? extra.cursor : page?.cursor;

  // As soon as the rows are in the document: the button that had the focus may be gone.
  useLayoutEffect(() => {
    const n = focusRow.current;
    if (n === undefined) return;
    focusRow.current = undefined;
    (document.querySelector(`#audit-rows tr[data-n="${n}"]`) as HTMLElement | null)?.focus();
  }, [items.length]);

  const apply = (change: Partial<Filters>) => navigate(auditHref({ ...filters, ...change }), true);

  const loadMore = async () => {
    if (!cursor) return;
    const mine = key;
    const before = extra?.items ?? [];
    setMoreState({ state: 'loading' });
    try {
      const next = await api.audit({ ...query, cursor });
      if (current.current !== mine) return;
      focusRow.current = items.length;
      setMore({ key: mine, items: [...before, ...next.items], cursor: next.cursor });
      setMoreState({ state: 'idle' });
    } catch (error) {
      if (current.current === mine) setMoreState({ state: 'error', error });
    }
  };

  const who = me.state === 'done' ? { sub: me.value.sub, name: me.value.username ?? me.value.email ?? me.value.sub } : undefined;
  const anyFilter = filters.tenant !== '' || filters.app !== '' || filters.period !== DEFAULT_PERIOD;
  const caption = items.length === 1 ? t('audit.caption.one') : t('audit.caption', { n: items.length });

  return (
    <>
      <PageTitle>{t('audit.title')}</PageTitle>
      <p class="muted">{t('audit.intro')}</p>
      <form class="filters" role="search" aria-label={t('audit.filters')} onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="a-tenant">{t('audit.tenant')}</label>
          <select id="a-tenant" value={filters.tenant} onChange={(e) => apply({ tenant: e.currentTarget.value })}>
            <option value="">{t('audit.any.tenant')}</option>
            {tenants.state === 'done' && tenants.value.items.map((x) => <option key={x.id} value={x.id}>{x.name} ({x.id})</option>)}
            {filters.tenant && (tenants.state !== 'done' || !tenants.value.items.some((x) => x.id === filters.tenant)) && (
              <option value={filters.tenant}>{filters.tenant}</option>
            )}
          </select>
        </div>
        <div class="field">
          <label for="a-app">{t('audit.app')}</label>
          <select id="a-app" value={filters.app} onChange={(e) => apply({ app: e.currentTarget.value })}>
            <option value="">{t('audit.any.app')}</option>
            {apps.state === 'done' && apps.value.items.map((x) => <option key={x.app} value={x.app}>{x.app}</option>)}
            {filters.app && (apps.state !== 'done' || !apps.value.items.some((x) => x.app === filters.app)) && (
              <option value={filters.app}>{filters.app}</option>
            )}
          </select>
        </div>
        <div class="field">
          <label for="a-period">{t('audit.period')}</label>
          <select id="a-period" value={filters.period} onChange={(e) => apply({ period: e.currentTarget.value as Period })}>
            {PERIODS.map((p) => <option key={p} value={p}>{t(`period.${p}`)}</option>)}
          </select>
        </div>
        {anyFilter && (
          <div class="field field-action">
            <button type="button" class="link-button" onClick={() => navigate(auditHref({}), true)}>{t('overview.clear')}</button>
          </div>
        )}
      </form>

      {first.state === 'error' && <ErrorBox error={first.error} retry={reload} />}
      {first.state !== 'error' && !page && <Loading />}
      {page && (
        <>
          {items.length === 0 ? (
            <div class="empty" role="status">
              <p>{t('audit.empty')}</p>
              <p class="muted">{t('audit.empty.hint')}</p>
            </div>
          ) : (
            <>
              <p class="muted" role="status">{`${caption}. ${cursor ? t('audit.partial') : t('audit.complete')}`}</p>
              <div class="table-wrap">
                <table class="grid audit">
                  <caption class="visually-hidden">{caption}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('audit.col.time')}</th>
                      <th scope="col">{t('audit.col.event')}</th>
                      <th scope="col">{t('audit.col.who')}</th>
                      <th scope="col">{t('audit.col.target')}</th>
                      <th scope="col">{t('audit.col.app')}</th>
                      <th scope="col">{t('audit.col.outcome')}</th>
                      <th scope="col">{t('audit.col.details')}</th>
                    </tr>
                  </thead>
                  <tbody id="audit-rows">
                    {items.map((r, n) => (
                      <tr key={r.id} data-id={r.id} data-n={n} tabIndex={-1} class={`audit-${r.outcome}`}>
                        <td class="audit-time"><time dateTime={r.time} title={r.time}>{fmt.format(new Date(r.time))}</time></td>
                        <th scope="row">{eventName(i, r)}</th>
                        <td><Who r={r} me={who} /></td>
                        <td><Target r={r} /></td>
                        <td>{r.app ? <span class="mono">{r.app}</span> : <span class="muted">—</span>}</td>
                        <td><OutcomeCell r={r} /></td>
                        <td class="audit-details"><Details r={r} /></td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          {moreState.state === 'error' && <ErrorBox error={moreState.error} retry={loadMore} />}
          {cursor && (
            <div class="pager">
              <button type="button" onClick={loadMore} disabled={moreState.state === 'loading'}>
                {t('audit.more')}
              </button>
              <span id="audit-more-status" class="muted" role="status">{moreState.state === 'loading' ? t('audit.more.loading') : ''}</span>
            </div>
          )}
        </>
      )}
    </>
  );
}
