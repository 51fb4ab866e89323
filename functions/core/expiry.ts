import { credentialSecretName, CREDENTIAL_PREFIX, earliest, NO_EXPIRY, TAG, type Credentials } from './credentials.ts';
import { describeError } from './errors.ts';
import { platformOf } from './platforms/index.ts';
import type { Expiry } from './platforms/types.ts';
import type { Clock, Log, Notification, Notifier, SecretStore, Tags } from './ports.ts';
import type { Tenants } from './tenants.ts';
import type { Text } from './text.ts';

/**
 * The expiry watch. It reads tags only (`ListSecrets` pages of 100), decides from
 * them whether an alert is due, and decrypts a credential only to say exactly what
 * expires when one is. Alert state lives in tags too, so every run starts from what
 * the previous one did.
 */
export const DEFAULT_THRESHOLDS = [60, 30, 14, 7, 3, 1, 0] as const;
export const ALERT_TAG = {
  level: 'sesame:alert-level',
  for: 'sesame:alert-for',
  at: 'sesame:alerted-at',
} as const;

const DAY = 86_400_000;
const dayIndex = (d: Date) => Math.floor(d.getTime() / DAY);

/** The most urgent threshold crossed with this many days left, and how loud its alert is. */
function crossedThreshold(daysLeft: number, thresholds: readonly number[]): { threshold: number; severity: Severity } | undefined {
  const threshold = [...thresholds].filter((t) => t > 0 && daysLeft <= t).sort((a, b) => a - b)[0];
  if (threshold === undefined) return undefined;
  return { threshold, severity: threshold <= 3 ? 'critical' : threshold <= 14 ? 'warning' : 'info' };
}

export type Severity = Notification['attributes']['severity'];

export type Due =
  | { type: 'threshold'; threshold: number; daysLeft: number; severity: Severity }
  | { type: 'expired'; daysAgo: number; severity: 'expired' }
  | { type: 'no-date'; severity: 'info' };

/** The alert due now for one credential's tags, if any, and the tags to write once it is sent. */
export function alertDue(tags: Tags, now: Date, thresholds: readonly number[] = DEFAULT_THRESHOLDS): { due: Due; next: Tags } | undefined {
  const expires = tags[TAG.expiresAt];
  const alertedAt = tags[ALERT_TAG.at] ? new Date(tags[ALERT_TAG.at] as string) : undefined;
  const daysSinceAlert = alertedAt && !Number.isNaN(alertedAt.getTime()) ? dayIndex(now) - dayIndex(alertedAt) : Number.POSITIVE_INFINITY;
  const stamp = { [ALERT_TAG.at]: now.toISOString() };

  if (!expires || expires === NO_EXPIRY || Number.isNaN(Date.parse(expires))) {
    // Never silence: a credential without an end date is a reminder a week.
    if (daysSinceAlert < 7) return undefined;
    return { due: { type: 'no-date', severity: 'info' }, next: { ...stamp, [ALERT_TAG.for]: NO_EXPIRY, [ALERT_TAG.level]: 'none' } };
  }
  const end = new Date(expires);
  // A new end date (a renewal) starts the thresholds again.
  const sameDate = tags[ALERT_TAG.for] === expires;
  const level = sameDate ? tags[ALERT_TAG.level] : undefined;

  if (now >= end) {
    const daysAgo = dayIndex(now) - dayIndex(end);
    const first = level !== 'expired';
    const cadence = daysAgo <= 7 ? 1 : 7;
    if (!first && daysSinceAlert < cadence) return undefined;
    return { due: { type: 'expired', daysAgo, severity: 'expired' }, next: { ...stamp, [ALERT_TAG.for]: expires, [ALERT_TAG.level]: 'expired' } };
  }
  const daysLeft = Math.ceil((end.getTime() - now.getTime()) / DAY);
  const crossed = crossedThreshold(daysLeft, thresholds);
  if (!crossed) return undefined;
  const last = level !== undefined && level !== 'none' && level !== 'expired' ? Number(level) : Number.POSITIVE_INFINITY;
  if (crossed.threshold >= last) return undefined;
  return { due: { type: 'threshold', ...crossed, daysLeft }, next: { ...stamp, [ALERT_TAG.for]: expires, [ALERT_TAG.level]: String(crossed.threshold) } };
}

const iso = (d: Date) => d.toISOString().slice(0, 10);
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The message: subject within 100 characters, French then English, with the platform's renewal steps. */
export function expiryNotification(input: { tenant: string; tenantName?: string; credential: string; kind: string; what: Text; at?: Date; due: Due }): Notification {
  const { tenant, credential, kind, what, at, due } = input;
  const platform = platformOf(kind);
  const who = `${tenant}${input.tenantName && input.tenantName !== tenant ? ` (${input.tenantName})` : ''}`;
  const subjectTail =
    due.type === 'threshold' ? `expires in ${due.daysLeft} day${due.daysLeft > 1 ? 's' : ''}` : due.type === 'expired' ? (due.daysAgo === 0 ? 'has expired today' : `expired ${due.daysAgo} day${due.daysAgo > 1 ? 's' : ''} ago`) : 'has no end date recorded';
  const base = `[Sesame] ${what.en} of ${tenant}/${credential} ${subjectTail}`;
  const subject = base.length <= 100 ? base : `${base.slice(0, 99)}…`;
  const day = iso(at ?? new Date(0));
  const text = {
    fr: {
      client: 'Client :',
      credential: 'Identifiant :',
      status: due.type === 'threshold' ? `expire le ${day}, dans ${due.daysLeft} jour(s)` : due.type === 'expired' ? `a expiré le ${day}${due.daysAgo > 0 ? `, il y a ${due.daysAgo} jour(s)` : ''}` : 'n’a pas de date de fin enregistrée : l’enregistrer pour être prévenu à temps',
      colon: ' :',
      left: 'Jours restants :',
      renew: 'Pour renouveler :',
    },
    en: {
      client: 'Client:',
      credential: 'Credential:',
      status: due.type === 'threshold' ? `expires on ${day}, in ${due.daysLeft} day(s)` : due.type === 'expired' ? `expired on ${day}${due.daysAgo > 0 ? `, ${due.daysAgo} day(s) ago` : ''}` : 'has no end date recorded: record one to be warned in time',
      colon: ':',
      left: 'Days left:',
      renew: 'To renew:',
    },
  };
  const block = (lang: 'fr' | 'en') => [
    `${text[lang].client} ${who}`,
    `${text[lang].credential} ${credential} (${platform.title[lang]})`,
    `${cap(what[lang])}${text[lang].colon} ${text[lang].status}.`,
    ...(due.type === 'threshold' ? [`${text[lang].left} ${due.daysLeft}`] : []),
    '',
    text[lang].renew,
    ...platform.renewal[lang].map((step, i) => `  ${i + 1}. ${step}`),
  ];
  const message = [...block('fr'), '', '---', '', ...block('en')].join('\n');
  return { subject, message, attributes: { tenant, kind, severity: due.severity } };
}

export interface ExpiryDeps {
  store: SecretStore;
  credentials: Credentials;
  tenants: Tenants;
  notifier: Notifier;
  clock: Clock;
  log: Log;
  thresholds?: readonly number[];
}

export interface ExpirySummary {
  at: string;
  checked: number;
  alerting: number;
  errors: number;
  pages: number;
}

/** What expires soonest for a credential, from its decrypted fields; a generic label when it cannot be read. */
async function whatExpires(deps: Pick<ExpiryDeps, 'credentials' | 'clock'>, tenant: string, credential: string, kind: string, expiresAt: string | undefined): Promise<Text> {
  const generic = { fr: `identifiant ${platformOf(kind).title.fr}`, en: `${platformOf(kind).title.en} credential` };
  if (!expiresAt || expiresAt === NO_EXPIRY) return generic;
  try {
    const c = await deps.credentials.findForUpdate(tenant, credential);
    if (!c?.fields) return generic;
    const list: Expiry[] = c.platform.expiries(c.fields, { tenant, credential, environment: c.environment, clock: deps.clock });
    const soonest = earliest(list);
    return list.find((e) => e.at.getTime() === soonest?.getTime())?.what ?? generic;
  } catch {
    return generic;
  }
}

export async function runExpiryCheck(deps: ExpiryDeps): Promise<ExpirySummary> {
  const now = deps.clock.now();
  const summary: ExpirySummary = { at: now.toISOString(), checked: 0, alerting: 0, errors: 0, pages: 0 };
  // A tenant's name is read once per run, however many of its credentials are due.
  const names = new Map<string, Promise<string | undefined>>();
  const nameOf = (tenant: string) => {
    let p = names.get(tenant);
    if (!p) {
      p = deps.tenants.find(tenant).then((t) => t?.name, () => undefined);
      names.set(tenant, p);
    }
    return p;
  };
  let nextToken: string | undefined;
  do {
    const page = await deps.store.list({ prefix: CREDENTIAL_PREFIX, pageSize: 100, ...(nextToken ? { nextToken } : {}) });
    summary.pages += 1;
    for (const { name, tags } of page.items) {
      summary.checked += 1;
      try {
        const decision = alertDue(tags, now, deps.thresholds);
        if (!decision) continue;
        const [, tenant = '', credential = ''] = name.split('/');
        const kind = tags[TAG.kind] ?? '';
        const expiresAt = tags[TAG.expiresAt];
        const what = await whatExpires(deps, tenant, credential, kind, expiresAt);
        const tenantName = await nameOf(tenant);
        await deps.notifier.publish(
          expiryNotification({ tenant, credential, kind, what, due: decision.due, ...(tenantName ? { tenantName } : {}), ...(expiresAt && expiresAt !== NO_EXPIRY ? { at: new Date(expiresAt) } : {}) }),
        );
        // After the alert: a failure here repeats the alert tomorrow rather than losing it.
        await deps.store.tag(credentialSecretName(tenant, credential), decision.next);
        summary.alerting += 1;
      } catch (err) {
        summary.errors += 1;
        deps.log.error('expiry check failed for one credential', { secret: name, ...describeError(err) });
      }
    }
    nextToken = page.nextToken;
  } while (nextToken);
  deps.log.info('expiry check done', { ...summary });
  return summary;
}

export interface ExpiryRow {
  tenant: string;
  credential: string;
  kind: string;
  what: string;
  expires_at: string | null;
  days_left: number | null;
  status: 'ok' | Severity | 'no date';
}

/** Every credential with what expires first, soonest first; those without a date last. */
export async function expiryReport(deps: Pick<ExpiryDeps, 'store' | 'credentials' | 'clock' | 'thresholds'>, at: Date): Promise<ExpiryRow[]> {
  const rows: ExpiryRow[] = [];
  let nextToken: string | undefined;
  do {
    const page = await deps.store.list({ prefix: CREDENTIAL_PREFIX, pageSize: 100, ...(nextToken ? { nextToken } : {}) });
    for (const { name, tags } of page.items) {
      const [, tenant = '', credential = ''] = name.split('/');
      const kind = tags[TAG.kind] ?? 'unknown';
      const expires = tags[TAG.expiresAt];
      const dated = expires && expires !== NO_EXPIRY && !Number.isNaN(Date.parse(expires));
      const daysLeft = dated ? Math.ceil((Date.parse(expires) - at.getTime()) / DAY) : null;
      let what = '-';
      try {
        what = (await whatExpires({ credentials: deps.credentials, clock: { now: () => at } }, tenant, credential, kind, expires)).en;
      } catch {
        what = '-';
      }
      const status: ExpiryRow['status'] = daysLeft === null ? 'no date' : daysLeft <= 0 ? 'expired' : (crossedThreshold(daysLeft, deps.thresholds ?? DEFAULT_THRESHOLDS)?.severity ?? 'ok');
      rows.push({ tenant, credential, kind, what, expires_at: dated ? new Date(expires).toISOString() : null, days_left: daysLeft, status });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return rows.sort((a, b) => (a.days_left ?? Number.POSITIVE_INFINITY) - (b.days_left ?? Number.POSITIVE_INFINITY) || a.tenant.localeCompare(b.tenant) || a.credential.localeCompare(b.credential));
}
