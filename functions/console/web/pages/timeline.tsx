import { api } from '../api.ts';
import { useI18n } from '../i18n.tsx';
import { href } from '../router.ts';
import { PLATFORMS, STATUSES, type CredentialStatus, type Status, type Timeline as TimelineData } from '../types.ts';
import { ErrorBox, Loading, PageTitle, useAsync } from '../ui.tsx';
import { platformName } from './overview.tsx';

const W = 1000;
const LABEL = 200;
const EXPIRED_W = 56;
const X0 = LABEL + EXPIRED_W + 12;
const X1 = W - 24;
const AXIS = 44;
const LANE = 22;
const GROUP_PAD = 14;
const MARK_GAP = 15;
const DAY = 86_400_000;

/** The shape of a mark: status shows by shape and label, never by colour alone. */
export function MarkShape({ status, x, y }: { status: Status; x: number; y: number }) {
  const cls = `mark-shape mark-${status}`;
  switch (status) {
    case 'expiring':
      return <path class={cls} d={`M${x} ${y - 7} L${x + 7} ${y + 6} L${x - 7} ${y + 6} Z`} />;
    case 'expired':
      return <path class={cls} d={`M${x - 6} ${y - 6} L${x + 6} ${y + 6} M${x + 6} ${y - 6} L${x - 6} ${y + 6}`} />;
    case 'refused':
      return <path class={cls} d={`M${x} ${y - 7} L${x + 7} ${y} L${x} ${y + 7} L${x - 7} ${y} Z`} />;
    case 'incomplete':
      return <rect class={cls} x={x - 5.5} y={y - 5.5} width={11} height={11} />;
    default:
      return <circle class={cls} cx={x} cy={y} r={6} />;
  }
}

interface Placed {
  item: CredentialStatus;
  x: number;
  lane: number;
}

function place(items: CredentialStatus[], xOf: (c: CredentialStatus) => number): { placed: Placed[]; lanes: number } {
  const sorted = items.map((item) => ({ item, x: xOf(item) })).sort((a, b) => a.x - b.x);
  const ends: number[] = [];
  const placed = sorted.map(({ item, x }) => {
    let lane = ends.findIndex((end) => x - end >= MARK_GAP);
    if (lane === -1) {
      lane = ends.length;
      ends.push(x);
    } else ends[lane] = x;
    return { item, x, lane };
  });
  return { placed, lanes: Math.max(ends.length, 1) };
}

export function Timeline() {
  const i = useI18n();
  const { t } = i;
  const [data, reload] = useAsync<TimelineData>(() => api.timeline(12), []);
  if (data.state === 'loading') return <><PageTitle>{t('timeline.title')}</PageTitle><Loading /></>;
  if (data.state === 'error') return <><PageTitle>{t('timeline.title')}</PageTitle><ErrorBox error={data.error} retry={reload} /></>;
  const { today, to, items } = data.value;
  const t0 = Date.parse(today);
  const t1 = Date.parse(to);
  const span = Math.max(t1 - t0, DAY);
  const xOf = (c: CredentialStatus) => {
    const at = c.expires_at ? Date.parse(c.expires_at) : t0;
    if (at < t0) return LABEL + 12 + Math.min(EXPIRED_W - 16, Math.max(0, (EXPIRED_W - 16) * (1 - (t0 - at) / (365 * DAY))));
    return X0 + ((Math.min(at, t1) - t0) / span) * (X1 - X0);
  };

  const families = [...PLATFORMS, ...new Set(items.map((c) => c.platform).filter((p) => !(PLATFORMS as readonly string[]).includes(p)))];
  const groups = families
    .map((p) => ({ platform: p, ...place(items.filter((c) => c.platform === p), xOf), count: items.filter((c) => c.platform === p).length }))
    .filter((g) => g.count > 0);

  let y = AXIS;
  const laid = groups.map((g) => {
    const top = y;
    const height = g.lanes * LANE + GROUP_PAD * 2;
    y += height;
    return { ...g, top, height };
  });
  const H = Math.max(y, AXIS + 60) + 8;

  // Month starts between today and the end.
  const months: Date[] = [];
  const d = new Date(t0);
  let m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
  while (m.getTime() <= t1) {
    months.push(m);
    m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1));
  }
  const xAt = (ms: number) => X0 + ((ms - t0) / span) * (X1 - X0);

  return (
    <>
      <PageTitle>{t('timeline.title')}</PageTitle>
      <p>{t('timeline.intro')}</p>
      {items.length === 0 && <p>{t('timeline.empty')}</p>}
      <div class="timeline-wrap">
        <svg class="timeline" viewBox={`0 0 ${W} ${H}`} role="group" aria-labelledby="timeline-title">
          <title id="timeline-title">{t('timeline.chart', { from: i.date(today), to: i.date(to) })}</title>
          <rect class="tl-expired-zone" x={LABEL + 4} y={AXIS - 6} width={EXPIRED_W} height={H - AXIS - 2} />
          <text class="tl-zone-label" x={LABEL + 4 + EXPIRED_W / 2} y={AXIS - 12} text-anchor="middle">{t('timeline.expired')}</text>
          {months.map((mm) => {
            const x = xAt(mm.getTime());
            return (
              <g key={mm.toISOString()} aria-hidden="true">
                <line class="tl-month" x1={x} x2={x} y1={AXIS - 6} y2={H - 8} />
                <text class="tl-month-label" x={x + 3} y={AXIS - 12}>
                  {i.month(mm)}{mm.getUTCMonth() === 0 ? ` ${mm.getUTCFullYear()}` : ''}
                </text>
              </g>
            );
          })}
          {laid.map((g) => (
            <g key={g.platform} role="group" aria-label={`${platformName(g.platform, i.lang)} (${g.count})`}>
              <line class="tl-group-line" x1={0} x2={W} y1={g.top} y2={g.top} />
              <text class="tl-group-label" x={4} y={g.top + GROUP_PAD + 12} aria-hidden="true">
                {platformName(g.platform, i.lang)}
              </text>
              <text class="tl-group-count" x={4} y={g.top + GROUP_PAD + 28} aria-hidden="true">
                {g.count}
              </text>
              {g.placed.map(({ item, x, lane }) => {
                const cy = g.top + GROUP_PAD + lane * LANE + LANE / 2;
                const name = t('timeline.mark', {
                  tenant: item.tenant_name ?? item.tenant,
                  credential: item.credential,
                  status: i.status(item.status),
                  date: i.date(item.expires_at),
                });
                return (
                  <a key={`${item.tenant}/${item.credential}`} class="mark" href={href(['credentials', item.tenant, item.credential])} aria-label={name}>
                    <title>{name}</title>
                    <circle class="mark-focus" cx={x} cy={cy} r={11} />
                    <MarkShape status={item.status} x={x} y={cy} />
                  </a>
                );
              })}
            </g>
          ))}
          <g class="tl-today" aria-hidden="true">
            <line x1={X0} x2={X0} y1={AXIS - 30} y2={H - 8} />
            <text x={X0 + 4} y={AXIS - 30}>{t('timeline.today')} · {i.date(today)}</text>
          </g>
        </svg>
      </div>
      <h2 class="h-small">{t('timeline.legend')}</h2>
      <ul class="legend">
        {STATUSES.map((s) => (
          <li key={s}>
            <svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" focusable="false">
              <MarkShape status={s} x={10} y={10} />
            </svg>
            {i.status(s)}
          </li>
        ))}
      </ul>
    </>
  );
}
