import { credentialSecretName, CREDENTIAL_PREFIX, earliest, NO_EXPIRY, recordError, scanSecrets, TAG, type Credentials, type RecordError } from './credentials.ts';
import { LINK_MAX_SECONDS, linkEnd, type Connect, type CreatedLink } from './connect.ts';
import { describeError, SesameError } from './errors.ts';
import { platformOf } from './platforms/index.ts';
import type { ExpiryName, Platform } from './platforms/types.ts';
import type { Clock, Log, Notification, Notifier, SecretStore, Tags } from './ports.ts';
import { connectLinksInAlerts, type Tenant, type Tenants } from './tenants.ts';

/**
 * The expiry watch. It reads tags only (`ListSecrets` pages of 100) and decides from
 * them whether an alert is due and what expires (`sesame:expires-at`,
 * `sesame:expires-what`). It decrypts a credential only when an alert is due and the
 * tags cannot say what expires (a certificate or its chain, written before the
 * `sesame:expires-what` tag existed). Alert state lives in tags too, so every run
 * starts from what the previous one did.
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
const dated = (expires: string | undefined): expires is string => !!expires && expires !== NO_EXPIRY && !Number.isNaN(Date.parse(expires));

/** The name used when a credential has no end date, or when nothing more precise is known. */
export function genericName(platform: Platform): ExpiryName {
  return { fr: `identifiant ${platform.title.fr}`, en: `${platform.title.en} credential`, short: `${platform.names.short} credential` };
}

/**
 * What expires, from a credential's tags alone: its `sesame:expires-what` tag, else the
 * platform's only name when it has one. Undefined when only the secret can say (a
 * certificate or its chain, for a credential written before that tag existed).
 */
export function nameFromTags(platform: Platform, tags: Tags): ExpiryName | undefined {
  if (!dated(tags[TAG.expiresAt])) return genericName(platform);
  const names = platform.names.expiries;
  const key = tags[TAG.expiresWhat];
  if (key && Object.hasOwn(names, key)) return names[key];
  const all = Object.values(names);
  return all.length === 1 ? all[0] : undefined;
}

export const SUBJECT_MAX = 100;

/** How a subject ends: the days left, or since when it has expired. Always whole. */
export function subjectTail(due: Due): string {
  if (due.type === 'threshold') return `expires in ${due.daysLeft} day${due.daysLeft > 1 ? 's' : ''}`;
  if (due.type === 'expired') return due.daysAgo === 0 ? 'has expired today' : `expired ${due.daysAgo} day${due.daysAgo > 1 ? 's' : ''} ago`;
  return 'has no end date recorded';
}

/** An id cut to whole words (its "-" parts) from the start, `-…` marking what is left out. */
function leadingWords(id: string, max: number): string {
  if (id.length <= max) return id;
  let kept = '';
  for (const word of id.split('-')) {
    const next = kept ? `${kept}-${word}` : word;
    if (next.length + 2 > max) break;
    kept = next;
  }
  return kept ? `${kept}-…` : '…';
}

/** `tenant/credential` within `room` characters: whole when it fits, else each id cut to its leading words. */
function fitReference(tenant: string, credential: string, room: number): string {
  if (tenant.length + 1 + credential.length <= room) return `${tenant}/${credential}`;
  const half = Math.floor((room - 1) / 2);
  if (credential.length <= half) return `${leadingWords(tenant, room - 1 - credential.length)}/${credential}`;
  if (tenant.length <= half) return `${tenant}/${leadingWords(credential, room - 1 - tenant.length)}`;
  const c = leadingWords(credential, room - 1 - leadingWords(tenant, half).length);
  // What the credential did not use goes back to the tenant.
  return `${leadingWords(tenant, room - 1 - c.length)}/${c}`;
}

/**
 * The subject, within 100 characters and never cut inside a word. It always ends with
 * the days left (or since when it expired). What gives way, in order: the long name of
 * what expires becomes its short one, then goes; then, only for ids too long to fit
 * together (two ids of 64 characters cannot), each id keeps its leading words.
 */
export function alertSubject(input: { what: ExpiryName; tenant: string; credential: string; due: Due }): string {
  const { what, tenant, credential, due } = input;
  const tail = subjectTail(due);
  const reference = `${tenant}/${credential}`;
  for (const name of [what.en, what.short]) {
    const subject = `[Sesame] ${name} of ${reference} ${tail}`;
    if (subject.length <= SUBJECT_MAX) return subject;
  }
  const room = SUBJECT_MAX - `[Sesame]  ${tail}`.length;
  return `[Sesame] ${fitReference(tenant, credential, room)} ${tail}`;
}

/** The message: subject within 100 characters, French then English, with the platform's renewal steps (and a connect link, when one is given). */
export function expiryNotification(input: { tenant: string; tenantName?: string; credential: string; kind: string; what: ExpiryName; at?: Date; due: Due; link?: Pick<CreatedLink, 'url' | 'expires_at'> }): Notification {
  const { tenant, credential, kind, what, at, due } = input;
  const platform = platformOf(kind);
  const who = `${tenant}${input.tenantName && input.tenantName !== tenant ? ` (${input.tenantName})` : ''}`;
  const subject = alertSubject({ what, tenant, credential, due });
  const day = iso(at ?? new Date(0));
  const text = {
    fr: {
      client: 'Client :',
      credential: 'Identifiant :',
      status: due.type === 'threshold' ? `expire le ${day}, dans ${due.daysLeft} jour(s)` : due.type === 'expired' ? `a expiré le ${day}${due.daysAgo > 0 ? `, il y a ${due.daysAgo} jour(s)` : ''}` : 'n’a pas de date de fin enregistrée : l’enregistrer pour être prévenu à temps',
      colon: ' :',
      left: 'Jours restants :',
      renew: 'Pour renouveler :',
      link: 'Ou, pour l’administrateur du client : transmettre le nouvel identifiant par ce lien de connexion, qui guide pas à pas (une seule fois, jusqu’au',
    },
    en: {
      client: 'Client:',
      credential: 'Credential:',
      status: due.type === 'threshold' ? `expires on ${day}, in ${due.daysLeft} day(s)` : due.type === 'expired' ? `expired on ${day}${due.daysAgo > 0 ? `, ${due.daysAgo} day(s) ago` : ''}` : 'has no end date recorded: record one to be warned in time',
      colon: ':',
      left: 'Days left:',
      renew: 'To renew:',
      link: "Or, for the client's administrator: hand the new credential over through this connect link, which guides step by step (once, until",
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
    ...(input.link ? ['', `${text[lang].link} ${linkEnd(input.link.expires_at)})${text[lang].colon}`, `  ${input.link.url}`] : []),
  ];
  const message = [...block('fr'), '', '---', '', ...block('en')].join('\n');
  return { subject, message, attributes: { tenant, kind, severity: due.severity } };
}

export interface ExpiryDeps {
  store: SecretStore;
  credentials: Credentials;
  tenants: Tenants;
  /** Needed unless dryRun. */
  notifier?: Notifier | undefined;
  clock: Clock;
  log: Log;
  thresholds?: readonly number[];
  /** Decide and say what would be sent, but publish nothing and write no tag. */
  dryRun?: boolean;
  /**
   * Connect links (a state store is wired): an alert for a credential the client renews
   * itself (Platform.renewedBy `client`) carries a fresh link, unless its tenant says
   * `connect_links_in_alerts: false`. One link per alert sent; none in a dry run.
   */
  connect?: (Pick<Connect, 'create'> & Partial<Pick<Connect, 'sweepPendingKeys'>>) | undefined;
}

/** The shortest life of a link sent with an alert. */
export const ALERT_LINK_MIN_SECONDS = 14 * 86_400;
/** How long after the credential's end a link sent with an alert still works, when that is later. */
export const ALERT_LINK_GRACE_SECONDS = 7 * 86_400;

/**
 * A link sent with an alert works 14 days, or until 7 days after the credential's end
 * when that is later (an alert 10 days ahead: 17 days), within the 30 days a link may
 * live at most (LINK_MAX_SECONDS: the alerts at 60 and 30 days get 30-day links, and the
 * later thresholds bring fresh ones).
 */
export function alertLinkSeconds(now: Date, end: Date | undefined): number {
  const untilEnd = end ? Math.floor((end.getTime() - now.getTime()) / 1000) + ALERT_LINK_GRACE_SECONDS : 0;
  return Math.min(LINK_MAX_SECONDS, Math.max(ALERT_LINK_MIN_SECONDS, untilEnd));
}

/** One alert sent (or, in a dry run, that would be). */
export interface ExpiryAlert {
  tenant: string;
  credential: string;
  kind: string;
  severity: Severity;
  subject: string;
  /** When the alert carries a connect link: the link's end (never its URL). */
  link_expires_at?: string;
}

export interface ExpirySummary {
  at: string;
  /** True when nothing was published nor recorded: `alerts` are what would have been sent. */
  dry_run: boolean;
  checked: number;
  alerting: number;
  /** How many records could not be read or alerted (the scheduled function's metric); `failures` says which. */
  errors: number;
  pages: number;
  alerts: ExpiryAlert[];
  failures: RecordError[];
}

/**
 * What expires for a credential with an alert due: from its tags, else (a certificate
 * or its chain, without the `sesame:expires-what` tag) from its decrypted fields. A
 * secret that cannot be read still gets its alert, with the platform's usual name, and
 * is named as an error.
 */
async function whatExpires(deps: Pick<ExpiryDeps, 'credentials' | 'clock'>, platform: Platform, name: string, tags: Tags): Promise<{ what: ExpiryName; error?: RecordError }> {
  const fromTags = nameFromTags(platform, tags);
  if (fromTags) return { what: fromTags };
  const usual = Object.values(platform.names.expiries)[0] ?? genericName(platform);
  const [, tenant = '', credential = ''] = name.split('/');
  try {
    const c = await deps.credentials.findForUpdate(tenant, credential);
    if (!c?.fields) return { what: usual };
    const list = c.platform.expiries(c.fields, { tenant, credential, environment: c.environment, clock: deps.clock });
    const soonest = earliest(list);
    const en = list.find((e) => e.at.getTime() === soonest?.getTime())?.what.en;
    return { what: Object.values(platform.names.expiries).find((n) => n.en === en) ?? usual };
  } catch (err) {
    return { what: usual, error: recordError(name, err) };
  }
}

export async function runExpiryCheck(deps: ExpiryDeps): Promise<ExpirySummary> {
  const now = deps.clock.now();
  const dryRun = deps.dryRun === true;
  const notifier = deps.notifier;
  if (!dryRun && !notifier) throw new SesameError('invalid_request', 'the expiry check has nowhere to publish alerts: no alerts topic configured');
  const summary: ExpirySummary = { at: now.toISOString(), dry_run: dryRun, checked: 0, alerting: 0, errors: 0, pages: 0, alerts: [], failures: [] };
  const fail = (error: RecordError) => {
    summary.failures.push(error);
    deps.log.error('expiry check failed for one credential', { ...error });
  };
  // A tenant's record is read once per run, however many of its credentials are due.
  const records = new Map<string, Promise<Tenant | undefined>>();
  const tenantOf = (tenant: string) => {
    let p = records.get(tenant);
    if (!p) {
      p = deps.tenants.find(tenant).catch(() => undefined);
      records.set(tenant, p);
    }
    return p;
  };
  /** A fresh connect link for this alert, when it is due one; an alert is never held back for want of a link. */
  const linkFor = async (tenant: Tenant | undefined, credential: string, platform: Platform, due: Due, end: Date | undefined) => {
    if (dryRun || !deps.connect || !tenant || due.type === 'no-date' || platform.renewedBy !== 'client' || !platform.connect || !connectLinksInAlerts(tenant)) return undefined;
    try {
      return await deps.connect.create({ tenant: tenant.id, credential, valid: alertLinkSeconds(now, end), createdBy: 'expiry' });
    } catch (err) {
      deps.log.warn('expiry alert sent without a connect link', { tenant: tenant.id, credential, ...describeError(err) });
      return undefined;
    }
  };
  const scan = await scanSecrets(deps.store, CREDENTIAL_PREFIX, async (items) => {
    for (const { name, tags } of items) {
      summary.checked += 1;
      try {
        const decision = alertDue(tags, now, deps.thresholds);
        if (!decision) continue;
        const [, tenant = '', credential = ''] = name.split('/');
        const kind = tags[TAG.kind] ?? '';
        const platform = platformOf(kind);
        const expiresAt = tags[TAG.expiresAt];
        const { what, error } = await whatExpires(deps, platform, name, tags);
        if (error) fail(error);
        const record = await tenantOf(tenant);
        const end = dated(expiresAt) ? new Date(expiresAt) : undefined;
        const link = await linkFor(record, credential, platform, decision.due, end);
        const n = expiryNotification({ tenant, credential, kind, what, due: decision.due, ...(record ? { tenantName: record.name } : {}), ...(end ? { at: end } : {}), ...(link ? { link } : {}) });
        if (!dryRun) {
          await (notifier as Notifier).publish(n);
          // After the alert: a failure here repeats the alert tomorrow rather than losing it.
          await deps.store.tag(credentialSecretName(tenant, credential), decision.next);
        }
        summary.alerting += 1;
        summary.alerts.push({ tenant, credential, kind, severity: n.attributes.severity, subject: n.subject, ...(link ? { link_expires_at: link.expires_at } : {}) });
      } catch (err) {
        fail(recordError(name, err));
        if (!(err instanceof SesameError)) deps.log.error('expiry check: unexpected failure', { secret: name, ...describeError(err) });
      }
    }
  });
  summary.pages = scan.pages;
  for (const error of scan.errors) fail(error);
  if (!dryRun && deps.connect?.sweepPendingKeys) {
    await deps.connect.sweepPendingKeys().catch((err) => deps.log.warn('pending key sweep failed', describeError(err)));
  }
  summary.errors = summary.failures.length;
  deps.log.info('expiry check done', { at: summary.at, dry_run: dryRun, checked: summary.checked, alerting: summary.alerting, errors: summary.errors, pages: summary.pages });
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

export interface ExpiryReport {
  at: string;
  /** Soonest first; those without a date last. */
  credentials: ExpiryRow[];
  /** The records that could not be read, left out of `credentials`. */
  errors: RecordError[];
}

/**
 * Every credential with what expires first, from tags alone: nothing is decrypted. A
 * certificate credential written before the `sesame:expires-what` tag existed shows its
 * platform's usual item (the certificate) until its next write.
 */
export async function expiryReport(deps: { store: SecretStore; thresholds?: readonly number[] | undefined }, at: Date): Promise<ExpiryReport> {
  const rows: ExpiryRow[] = [];
  const { errors } = await scanSecrets(deps.store, CREDENTIAL_PREFIX, (items) => {
    for (const { name, tags } of items) {
      const [, tenant = '', credential = ''] = name.split('/');
      const kind = tags[TAG.kind] ?? 'unknown';
      const expires = tags[TAG.expiresAt];
      const daysLeft = dated(expires) ? Math.ceil((Date.parse(expires) - at.getTime()) / DAY) : null;
      let what = '-';
      try {
        const platform = platformOf(kind);
        what = (nameFromTags(platform, tags) ?? Object.values(platform.names.expiries)[0] ?? genericName(platform)).en;
      } catch {
        // An unknown kind: listed all the same, with nothing to say of what expires.
      }
      const status: ExpiryRow['status'] = daysLeft === null ? 'no date' : daysLeft <= 0 ? 'expired' : (crossedThreshold(daysLeft, deps.thresholds ?? DEFAULT_THRESHOLDS)?.severity ?? 'ok');
      rows.push({ tenant, credential, kind, what, expires_at: dated(expires) ? new Date(expires).toISOString() : null, days_left: daysLeft, status });
    }
  });
  rows.sort((a, b) => (a.days_left ?? Number.POSITIVE_INFINITY) - (b.days_left ?? Number.POSITIVE_INFINITY) || a.tenant.localeCompare(b.tenant) || a.credential.localeCompare(b.credential));
  return { at: at.toISOString(), credentials: rows, errors };
}
