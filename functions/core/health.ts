import { credentialSecretName, CREDENTIAL_PREFIX, expiresWhatTag, NO_EXPIRY, recordError, scanSecrets, TAG, type Credential, type Credentials, type RecordError } from './credentials.ts';
import { describeError, isSesameError, SesameError } from './errors.ts';
import { parseCredentialId, parseTenantId } from './ids.ts';
import type { RetryPolicy } from './oauth.ts';
import { KINDS, platformOf } from './platforms/index.ts';
import type { Platform, PlatformContext } from './platforms/types.ts';
import type { Clock, HttpClient, Log, Notification, Notifier, SecretStore, Tags } from './ports.ts';
import { failureText, probeCredential, type ProbeResult } from './probe.ts';
import type { Tenant, Tenants } from './tenants.ts';
import type { Text } from './text.ts';

/**
 * Health checks: does a stored credential still work upstream? An expiry date is not
 * the only way a credential dies (a revoked Cegid key, a PISTE password changed by
 * someone else, an OPCO key regenerated). FLA and PISTE obtain a token, an OPCO asks
 * its key-information endpoint (functions/core/probe.ts); nothing obtained is cached
 * or served. The last result is kept as tags on the credential's secret, so that the
 * console and the next run read it without decrypting anything, and alert state lives
 * beside it as for expiry alerts (functions/core/expiry.ts).
 */
export const HEALTH_TAG = {
  /** ok | failed | not_testable */
  status: 'sesame:health',
  at: 'sesame:health-at',
  /** Plain English words, sanitised for a tag value: what was proved, why it failed, or why it cannot be checked. */
  reason: 'sesame:health-reason',
  /** upstream_rejected | upstream_unavailable when failed, else `none`. */
  code: 'sesame:health-code',
  /** The secret version checked (a later version makes the result old news), `none` when nothing was read. */
  version: 'sesame:health-version',
  /** `failed` once a failure alert was sent, `recovered` once the recovery alert was. */
  alert: 'sesame:health-alert',
  alertedAt: 'sesame:health-alerted-at',
} as const;

export type HealthStatus = 'ok' | 'failed' | 'not_testable';

export interface HealthResult {
  tenant: string;
  credential: string;
  kind: string;
  environment: string | null;
  status: HealthStatus;
  checked_at: string;
  /** The secret version checked; absent when nothing was read (a kind that cannot be checked, a placeholder). */
  version?: string;
  /** Failed or not testable: why, in plain English, never a secret value. */
  reason?: string;
  /** For a person, French then English: what was proved, why it failed, or why it cannot be checked. */
  message: Text;
  code?: 'upstream_rejected' | 'upstream_unavailable';
  upstream_status?: number;
  upstream_error?: string;
  /** The end of validity the platform answered (an OPCO's `dateFinValidite`). */
  expires_at?: string;
  /** True when `sesame:expires-at` was changed to `expires_at`. */
  expiry_updated?: boolean;
  /** What `sesame:expires-at` said before, when it was changed (`none`: no date). */
  previous_expires_at?: string;
}

/** What checking one credential needs: the store, the network and the tenant's identifiers. */
export interface HealthProbeDeps {
  store: SecretStore;
  credentials: Credentials;
  tenants: Tenants;
  http: HttpClient;
  retry: RetryPolicy;
  clock: Clock;
  log: Log;
}

export interface TestOptions {
  /** Write the result (and a corrected end date) as tags. Default true; false for a dry run. */
  record?: boolean;
  /** The tenant's record, when the caller has it already (the sweep reads each tenant once). */
  tenantOf?: (tenant: string) => Promise<Tenant | undefined>;
}

/**
 * Whether a platform can be checked at all, from the platform alone: it has a check of
 * its own, or it allows its fields to be tested before they are stored (ConnectSpec
 * `check`: a token for OAuth kinds). Cegid File Exchange publishes no call that checks a
 * key without side effects, and Chorus EDI holds a certificate with nothing to call:
 * those are said `not_testable` without decrypting them.
 */
export function testable(platform: Platform): boolean {
  return platform.probe !== undefined || platform.connect?.check === true;
}

/** What a kind that cannot be checked says, plainly. */
function untestableText(platform: Platform): Text {
  const certificate = platform.certificateProfiles !== undefined && platform.certificateProfiles.length > 0;
  return {
    fr: `${platform.title.fr} : la plateforme n’offre aucun appel qui vérifie cet identifiant sans effet ; Sesame ne peut pas le tester.${certificate ? ' Son certificat est vérifié à chaque dépôt, et sa date de fin surveillée.' : ' Une clé révoquée se voit quand un appel d’une application est refusé.'}`,
    en: `${platform.title.en}: the platform offers no call that checks this credential without side effects; Sesame cannot test it.${certificate ? ' Its certificate is checked at each upload, and its end date watched.' : ' A revoked key shows when an app’s call is refused.'}`,
  };
}

function incompleteText(err: SesameError): Text {
  return {
    fr: `L’identifiant est incomplet : il ne peut pas être vérifié avant d’être complété (${err.message}).`,
    en: `The credential is incomplete: it cannot be checked until it is filled in (${err.message}).`,
  };
}

const TAG_VALUE_MAX = 256;

/**
 * A tag value Secrets Manager accepts: letters, digits, spaces and `_.:/=+-@` only, at
 * most 256 characters. Anything else becomes a space (an apostrophe, parentheses).
 */
export function tagValue(text: string): string {
  const cleaned = text
    .replace(/[^\p{L}\p{N}\s_.:/=+\-@]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  const value = chars.length > TAG_VALUE_MAX ? chars.slice(0, TAG_VALUE_MAX).join('').trimEnd() : cleaned;
  return value === '' ? NO_EXPIRY : value;
}

/** The tags that record one result. */
function resultTags(r: HealthResult): Tags {
  return {
    [HEALTH_TAG.status]: r.status,
    [HEALTH_TAG.at]: r.checked_at,
    [HEALTH_TAG.reason]: tagValue(r.reason ?? r.message.en),
    [HEALTH_TAG.code]: r.code ?? NO_EXPIRY,
    [HEALTH_TAG.version]: r.version ? tagValue(r.version) : NO_EXPIRY,
  };
}

function fromProbe(base: Omit<HealthResult, 'status' | 'checked_at' | 'message'>, probe: ProbeResult): HealthResult {
  if (probe.status === 'ok') return { ...base, status: 'ok', checked_at: probe.checked_at, message: probe.note, ...(probe.expires_at ? { expires_at: probe.expires_at } : {}) };
  if (probe.status === 'not_testable') return { ...base, status: 'not_testable', checked_at: probe.checked_at, reason: probe.reason.en, message: probe.reason };
  return {
    ...base,
    status: 'failed',
    checked_at: probe.checked_at,
    reason: probe.reason,
    message: failureText(probe),
    code: probe.code,
    ...(probe.upstream_status !== undefined ? { upstream_status: probe.upstream_status } : {}),
    ...(probe.upstream_error !== undefined ? { upstream_error: probe.upstream_error } : {}),
  };
}

/** Asks the platform about a credential that was read. */
async function probeLoaded(deps: HealthProbeDeps, c: Credential, tenantOf: (tenant: string) => Promise<Tenant | undefined>): Promise<ProbeResult> {
  const ctx: PlatformContext = { tenant: c.tenant, credential: c.credential, environment: c.environment, clock: deps.clock };
  const notTestable = (reason: Text): ProbeResult => ({ status: 'not_testable', checked_at: deps.clock.now().toISOString(), reason });
  if (!c.platform.probe) {
    // Without a check of its own a kind is checked through its material, which says
    // first whether it can vend at all (an FLA key awaiting its Chaman client id).
    try {
      c.platform.material(c.fields, ctx);
    } catch (err) {
      if (isSesameError(err, 'credential_incomplete')) return notTestable(incompleteText(err));
      if (isSesameError(err, 'invalid_request')) return notTestable(untestableText(c.platform));
      throw err;
    }
  }
  const tenant = await tenantOf(c.tenant);
  const tenantIds = { ...(tenant?.siren ? { siren: tenant.siren } : {}), ...(tenant?.siret ? { siret: tenant.siret } : {}), ...(tenant?.bce ? { bce: tenant.bce } : {}) };
  return probeCredential(c.platform, c.fields, { ...ctx, http: deps.http, retry: deps.retry, tenantIds }, deps.log);
}

/**
 * Checks one credential with its platform, now: not cached, nothing served. Records the
 * result as tags on the credential (unless `record: false`) and, when the platform
 * answered an end of validity other than the recorded one (an OPCO), corrects the
 * `sesame:expires-at` tag. Throws unknown_tenant / unknown_credential / invalid_request
 * for ids that name nothing; a refusal or an unreachable platform is a `failed` result.
 */
export async function testCredential(deps: HealthProbeDeps, tenant: string, credential: string, options: TestOptions = {}): Promise<HealthResult> {
  const t = parseTenantId(tenant);
  const { id, kind } = parseCredentialId(credential, KINDS);
  const platform = platformOf(kind);
  const name = credentialSecretName(t, id);
  const record = options.record !== false;
  const tenantOf = options.tenantOf ?? ((x: string) => deps.tenants.find(x));
  const base = { tenant: t, credential: id, kind };

  const notTestable = async (message: Text): Promise<HealthResult> => {
    const tags = await deps.store.tags(name);
    return { ...base, environment: tags?.[TAG.environment] ?? null, status: 'not_testable', checked_at: deps.clock.now().toISOString(), reason: message.en, message };
  };
  let result: HealthResult;
  let loaded: Credential | undefined;
  if (!testable(platform)) {
    // Nothing to decrypt for a kind that cannot be checked; its tags say it exists.
    if (!(await deps.store.tags(name))) await deps.credentials.get(t, id); // unknown_tenant / unknown_credential, in the usual words
    result = await notTestable(untestableText(platform));
  } else {
    let incomplete: SesameError | undefined;
    try {
      loaded = await deps.credentials.get(t, id);
    } catch (err) {
      if (!isSesameError(err, 'credential_incomplete')) throw err;
      incomplete = err;
    }
    result = loaded ? fromProbe({ ...base, environment: loaded.environment, version: loaded.version }, await probeLoaded(deps, loaded, tenantOf)) : await notTestable(incompleteText(incomplete as SesameError));
  }

  if (record) {
    const tags = resultTags(result);
    if (result.status === 'ok' && result.expires_at && loaded) Object.assign(tags, await correctedEnd(deps, name, loaded, result));
    await deps.store.tag(name, tags);
  }
  deps.log.info('credential tested', {
    tenant: t,
    credential: id,
    kind,
    status: result.status,
    recorded: record,
    ...(result.code ? { code: result.code } : {}),
    ...(result.upstream_status !== undefined ? { upstream_status: result.upstream_status } : {}),
    ...(result.expiry_updated ? { expiry_updated: true } : {}),
  });
  return result;
}

/**
 * The end-date tags to write when the platform's end of validity differs from the
 * recorded one, and only while the version checked is still the current one (a new
 * version stored meanwhile has its own date). Sets `expiry_updated` on the result.
 *
 * Tags, not a new secret version: every write is a new version and the previous one
 * stays as the fallback (AWSPREVIOUS), the credential that worked before the last
 * change. A version written only to carry a date would push that fallback out with a
 * copy of the current key. The date is a public fact about the key, which did not
 * change; the expiry watch and the console read it from the tag. The stored fields keep
 * the date they were given until the next write, which sets the tag from them again,
 * and the next check corrects it again.
 */
async function correctedEnd(deps: HealthProbeDeps, name: string, loaded: Credential, result: HealthResult): Promise<Tags> {
  const learned = result.expires_at as string;
  const recorded = (await deps.store.tags(name))?.[TAG.expiresAt];
  if (recorded && recorded !== NO_EXPIRY && Date.parse(recorded) === Date.parse(learned)) return {};
  const current = await deps.store.get(name);
  if (current?.version !== loaded.version) return {};
  const usual = Object.values(loaded.platform.names.expiries)[0];
  const at = new Date(learned);
  result.expiry_updated = true;
  result.previous_expires_at = recorded ?? NO_EXPIRY;
  return { [TAG.expiresAt]: at.toISOString(), ...(usual ? expiresWhatTag(loaded.platform, [{ what: usual, at }]) : {}) };
}

/** The last check recorded on a credential, from its tags; null when it was never checked. For the console's "last check". */
export interface LastCheck {
  status: HealthStatus;
  at: string;
  reason: string | null;
  code: string | null;
  /** The version checked, when one was read. */
  version: string | null;
  /** True when the version checked is not `currentVersion` (given): a newer version was stored since. */
  stale: boolean;
}

export function lastCheckFromTags(tags: Tags, currentVersion?: string): LastCheck | null {
  const status = tags[HEALTH_TAG.status];
  if (status !== 'ok' && status !== 'failed' && status !== 'not_testable') return null;
  const value = (k: string) => (tags[k] && tags[k] !== NO_EXPIRY ? (tags[k] as string) : null);
  const version = value(HEALTH_TAG.version);
  return {
    status,
    at: tags[HEALTH_TAG.at] ?? '',
    reason: value(HEALTH_TAG.reason),
    code: value(HEALTH_TAG.code),
    version,
    stale: currentVersion !== undefined && version !== null && version !== tagValue(currentVersion),
  };
}

export type HealthAlertType = 'failing' | 'reminder' | 'recovered';

export const DEFAULT_REMINDER_DAYS = 7;
const DAY = 86_400_000;
const dayIndex = (ms: number) => Math.floor(ms / DAY);

/**
 * The alert due for a check's result, given the credential's tags before the check, and
 * the tags that record it once sent. The same idea as expiry alerts: the tags remember
 * what was sent, so a credential that keeps failing alerts once (then a reminder every
 * `reminderDays`, 0 for none), and once more when it works again. `not_testable` never
 * alerts. A platform that does not answer alerts only when it did not work at the
 * previous check either: a moment's outage is not a dead credential, and the alert
 * reaches the client's own contacts. A credential past its recorded end is the expiry
 * watch's to announce.
 */
export function healthAlertDue(before: Tags, result: Pick<HealthResult, 'status' | 'code'>, now: Date, reminderDays: number = DEFAULT_REMINDER_DAYS): { type: HealthAlertType; next: Tags } | undefined {
  const alerted = before[HEALTH_TAG.alert] === 'failed';
  const stamp = { [HEALTH_TAG.alertedAt]: now.toISOString() };
  if (result.status === 'ok') return alerted ? { type: 'recovered', next: { [HEALTH_TAG.alert]: 'recovered', ...stamp } } : undefined;
  if (result.status !== 'failed') return undefined;
  const end = Date.parse(before[TAG.expiresAt] ?? '');
  if (!Number.isNaN(end) && end <= now.getTime()) return undefined;
  if (alerted) {
    const last = Date.parse(before[HEALTH_TAG.alertedAt] ?? '');
    const due = reminderDays > 0 && (Number.isNaN(last) || dayIndex(now.getTime()) - dayIndex(last) >= reminderDays);
    return due ? { type: 'reminder', next: { [HEALTH_TAG.alert]: 'failed', ...stamp } } : undefined;
  }
  if (result.code === 'upstream_unavailable' && before[HEALTH_TAG.status] !== 'failed') return undefined;
  return { type: 'failing', next: { [HEALTH_TAG.alert]: 'failed', ...stamp } };
}

const SUBJECT_MAX = 100;
const TAILS: Record<HealthAlertType, string> = { failing: 'fails its health check', reminder: 'still fails its health check', recovered: 'works again' };

/** Plain ASCII: SNS subjects are ASCII, and OPCO names have accents (OPCO Santé). */
const ascii = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '');

/** An id cut to its leading words ("-" parts) within max characters, `...` marking the cut. */
function leadingWords(id: string, max: number): string {
  if (id.length <= max) return id;
  let kept = '';
  for (const word of id.split('-')) {
    const next = kept ? `${kept}-${word}` : word;
    if (next.length + 3 > max) break;
    kept = next;
  }
  return `${kept}...`;
}

/** `tenant/credential` within room characters: whole when it fits, else each id cut to its leading words. */
function fitReference(tenant: string, credential: string, room: number): string {
  if (tenant.length + 1 + credential.length <= room) return `${tenant}/${credential}`;
  const half = Math.floor((room - 1) / 2);
  if (credential.length <= half) return `${leadingWords(tenant, room - 1 - credential.length)}/${credential}`;
  if (tenant.length <= half) return `${tenant}/${leadingWords(credential, room - 1 - tenant.length)}`;
  const c = leadingWords(credential, room - 1 - leadingWords(tenant, half).length);
  // What the credential did not use goes back to the tenant.
  return `${leadingWords(tenant, room - 1 - c.length)}/${c}`;
}

/** Within 100 ASCII characters, never cut inside a word, always ending with what happened. */
export function healthSubject(input: { platform: Platform; tenant: string; credential: string; type: HealthAlertType }): string {
  const tail = TAILS[input.type];
  const reference = `${input.tenant}/${input.credential}`;
  for (const subject of [`[Sesame] ${ascii(input.platform.names.short)} credential ${reference} ${tail}`, `[Sesame] ${reference} ${tail}`]) {
    if (subject.length <= SUBJECT_MAX) return subject;
  }
  return `[Sesame] ${fitReference(input.tenant, input.credential, SUBJECT_MAX - `[Sesame]  ${tail}`.length)} ${tail}`;
}

/** The alert: French then English, never a secret (the reason is the platform's refusal in Sesame's words). */
export function healthNotification(input: { tenant: string; tenantName?: string | undefined; kind: string; credential: string; type: HealthAlertType; result: HealthResult }): Notification {
  const { tenant, credential, kind, type, result } = input;
  const platform = platformOf(kind);
  const who = `${tenant}${input.tenantName && input.tenantName !== tenant ? ` (${input.tenantName})` : ''}`;
  const refused = result.code === 'upstream_rejected';
  const text = {
    fr: {
      client: 'Client :',
      credential: 'Identifiant :',
      checked: `Vérification du ${result.checked_at} :`,
      state: type === 'recovered' ? 'l’identifiant fonctionne de nouveau.' : type === 'reminder' ? 'l’identifiant ne fonctionne toujours pas.' : 'l’identifiant ne fonctionne plus.',
      detail: 'Détail technique (en anglais) :',
      todo: refused
        ? ['Vérifier sur la plateforme que l’identifiant n’a pas été révoqué, régénéré ou changé par quelqu’un d’autre. S’il l’a été, le renouveler :']
        : ['La plateforme ne répond pas depuis au moins deux vérifications. Rien n’est à changer tant qu’elle ne refuse pas l’identifiant ; si cela dure, voir avec la plateforme.'],
      next: 'Sesame enverra un message quand la vérification réussira de nouveau.',
    },
    en: {
      client: 'Client:',
      credential: 'Credential:',
      checked: `Checked at ${result.checked_at}:`,
      state: type === 'recovered' ? 'the credential works again.' : type === 'reminder' ? 'the credential still does not work.' : 'the credential no longer works.',
      detail: 'Detail:',
      todo: refused
        ? ['Check on the platform that the credential was not revoked, regenerated or changed by someone else. If it was, renew it:']
        : ['The platform has not answered for at least two checks. Nothing needs changing while it does not refuse the credential; if this lasts, ask the platform.'],
      next: 'Sesame will send a message when the check succeeds again.',
    },
  };
  const block = (lang: 'fr' | 'en') => {
    const t = text[lang];
    const lines = [`${t.client} ${who}`, `${t.credential} ${credential} (${platform.title[lang]})`, `${t.checked} ${t.state}`];
    if (type === 'recovered') return [...lines, result.message[lang]];
    return [
      ...lines,
      result.message[lang],
      ...(result.reason ? [`${t.detail} ${result.reason}`] : []),
      '',
      ...t.todo,
      ...(refused ? platform.renewal[lang].map((step, i) => `  ${i + 1}. ${step}`) : []),
      '',
      t.next,
    ];
  };
  const message = [...block('fr'), '', '---', '', ...block('en')].join('\n');
  return { subject: healthSubject({ platform, tenant, credential, type }), message, attributes: { tenant, kind, severity: type === 'recovered' ? 'info' : 'warning' } };
}

export interface HealthConfig {
  /** Whether the scheduled run checks at all (SESAME_HEALTH_CHECK=off stops it; `sesame health check` and single tests still work). */
  enabled: boolean;
  /** Pause between two calls to one upstream host, in ms. */
  hostGapMs: number;
  /** Upstream hosts checked at once. */
  concurrency: number;
  /** Days between reminders while a credential keeps failing; 0: none. */
  reminderDays: number;
}

export const DEFAULT_HEALTH_CONFIG: HealthConfig = { enabled: true, hostGapMs: 500, concurrency: 4, reminderDays: DEFAULT_REMINDER_DAYS };

/** SESAME_HEALTH_CHECK (on|off, default on), SESAME_HEALTH_HOST_GAP_MS (500), SESAME_HEALTH_CONCURRENCY (4), SESAME_HEALTH_REMINDER_DAYS (7, 0 for none). */
export function readHealthConfig(env: NodeJS.ProcessEnv = process.env): HealthConfig {
  const whole = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new SesameError('invalid_request', `environment variable ${name} must be a whole number from ${min} to ${max}, got "${raw.slice(0, 32)}"`);
    return n;
  };
  const switched = (env.SESAME_HEALTH_CHECK ?? 'on').trim().toLowerCase();
  if (switched !== 'on' && switched !== 'off') throw new SesameError('invalid_request', `environment variable SESAME_HEALTH_CHECK must be on or off, got "${switched.slice(0, 32)}"`);
  return {
    enabled: switched === 'on',
    hostGapMs: whole('SESAME_HEALTH_HOST_GAP_MS', DEFAULT_HEALTH_CONFIG.hostGapMs, 0, 60_000),
    concurrency: whole('SESAME_HEALTH_CONCURRENCY', DEFAULT_HEALTH_CONFIG.concurrency, 1, 64),
    reminderDays: whole('SESAME_HEALTH_REMINDER_DAYS', DEFAULT_HEALTH_CONFIG.reminderDays, 0, 365),
  };
}

export interface HealthCheckDeps extends HealthProbeDeps, Partial<Omit<HealthConfig, 'enabled'>> {
  /** Needed unless dryRun. */
  notifier?: Notifier | undefined;
  /** How the sweep waits between two calls to one host (tests inject their own). */
  sleep?: (ms: number) => Promise<void>;
}

export interface HealthCheckOptions {
  /** Check, and say what would be sent, but publish nothing and write no tag. */
  dryRun?: boolean;
}

/** One alert sent (or, in a dry run, that would be). */
export interface HealthAlert {
  tenant: string;
  credential: string;
  kind: string;
  type: HealthAlertType;
  severity: Notification['attributes']['severity'];
  subject: string;
}

/** A credential that failed its check, as the summary lists it. */
export interface HealthFailure {
  tenant: string;
  credential: string;
  kind: string;
  code: string;
  reason: string;
  checked_at: string;
}

export interface HealthSummary {
  at: string;
  dry_run: boolean;
  /** Credentials listed; each is ok, failed, not_testable or one of the errors. */
  checked: number;
  ok: number;
  failed: number;
  not_testable: number;
  /** How many credentials could not be checked (or alerted) for a reason of Sesame's own; `failures` says which. */
  errors: number;
  /** Distinct upstream hosts called. */
  hosts: number;
  /** End dates corrected from what the platform answered. */
  expiry_updated: number;
  alerts: HealthAlert[];
  failing: HealthFailure[];
  failures: RecordError[];
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs fn over items, at most `limit` at once. fn handles its own failures. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

/**
 * The host a check of this credential calls: the token endpoint of OAuth material, else
 * the base URL (an OPCO's key information lives under it). Empty when no call will be
 * made (incomplete, nothing to vend, no address) or the credential cannot be read now:
 * its check then says why without waiting for anyone.
 */
async function upstreamHost(deps: HealthProbeDeps, tenant: string, credential: string): Promise<string> {
  try {
    const c = await deps.credentials.get(tenant, credential);
    const m = c.platform.material(c.fields, { tenant, credential, environment: c.environment, clock: deps.clock });
    const url = m.type === 'oauth' ? m.tokenEndpoint : m.baseUrl;
    return url ? new URL(url).host.toLowerCase() : '';
  } catch {
    return '';
  }
}

/**
 * The scheduled health check (daily, after the expiry check): every credential listed
 * from tags, in pages like the expiry watch. Kinds that cannot be checked are counted
 * `not_testable` without being decrypted (and tagged so once). The others are read once
 * to learn which host their check calls, then checked, spread so as not to hammer an
 * upstream: the checks of one host one after the other with `hostGapMs` between them,
 * different hosts in parallel, `concurrency` at most, the busiest first. A credential
 * that starts failing alerts once, and once more when it works again (healthAlertDue).
 */
export async function runHealthCheck(deps: HealthCheckDeps, options: HealthCheckOptions = {}): Promise<HealthSummary> {
  const dryRun = options.dryRun === true;
  const notifier = deps.notifier;
  if (!dryRun && !notifier) throw new SesameError('invalid_request', 'the health check has nowhere to publish alerts: no alerts topic configured');
  const gap = deps.hostGapMs ?? DEFAULT_HEALTH_CONFIG.hostGapMs;
  const concurrency = deps.concurrency ?? DEFAULT_HEALTH_CONFIG.concurrency;
  const reminderDays = deps.reminderDays ?? DEFAULT_HEALTH_CONFIG.reminderDays;
  const sleep = deps.sleep ?? realSleep;
  const summary: HealthSummary = {
    at: deps.clock.now().toISOString(),
    dry_run: dryRun,
    checked: 0,
    ok: 0,
    failed: 0,
    not_testable: 0,
    errors: 0,
    hosts: 0,
    expiry_updated: 0,
    alerts: [],
    failing: [],
    failures: [],
  };
  const fail = (error: RecordError) => {
    summary.failures.push(error);
    deps.log.error('health check failed for one credential', { ...error });
  };
  const records = new Map<string, Promise<Tenant | undefined>>();
  const tenantOf = (tenant: string) => {
    let p = records.get(tenant);
    if (!p) {
      p = deps.tenants.find(tenant).catch(() => undefined);
      records.set(tenant, p);
    }
    return p;
  };

  interface Candidate {
    name: string;
    tenant: string;
    credential: string;
    kind: string;
    tags: Tags;
  }
  const candidates: Candidate[] = [];
  const untested: { name: string; tags: Tags }[] = [];
  const scan = await scanSecrets(deps.store, CREDENTIAL_PREFIX, (items) => {
    for (const { name, tags } of items) {
      summary.checked += 1;
      const [, tenant = '', credential = ''] = name.split('/');
      const kind = tags[TAG.kind] ?? '';
      let platform: Platform;
      try {
        platform = platformOf(kind);
      } catch (err) {
        fail(recordError(name, err));
        continue;
      }
      if (testable(platform)) {
        candidates.push({ name, tenant, credential, kind, tags });
        continue;
      }
      summary.not_testable += 1;
      // Said once: the answer does not change from one day to the next.
      if (!dryRun && tags[HEALTH_TAG.status] !== 'not_testable') {
        const message = untestableText(platform);
        const result: HealthResult = { tenant, credential, kind, environment: tags[TAG.environment] ?? null, status: 'not_testable', checked_at: deps.clock.now().toISOString(), reason: message.en, message };
        untested.push({ name, tags: resultTags(result) });
      }
    }
  });
  for (const error of scan.errors) fail(error);
  await eachLimit(untested, concurrency, async ({ name, tags }) => {
    await deps.store.tag(name, tags).catch((err: unknown) => fail(recordError(name, err)));
  });

  // Which host each check will call, read with the same bound on parallel reads.
  const hosts = new Map<string, Candidate[]>();
  const hostOf = new Map<Candidate, string>();
  await eachLimit(candidates, concurrency, async (c) => {
    hostOf.set(c, await upstreamHost(deps, c.tenant, c.credential));
  });
  for (const c of candidates) {
    const host = hostOf.get(c) ?? '';
    hosts.set(host, [...(hosts.get(host) ?? []), c]);
  }
  summary.hosts = [...hosts.keys()].filter((h) => h !== '').length;

  const checkOne = async (c: Candidate) => {
    try {
      const result = await testCredential(deps, c.tenant, c.credential, { record: !dryRun, tenantOf });
      summary[result.status] += 1;
      if (result.expiry_updated) summary.expiry_updated += 1;
      if (result.status === 'failed') {
        summary.failing.push({ tenant: c.tenant, credential: c.credential, kind: c.kind, code: result.code ?? 'internal', reason: result.reason ?? '', checked_at: result.checked_at });
      }
      const due = healthAlertDue(c.tags, result, deps.clock.now(), reminderDays);
      if (!due) return;
      const record = await tenantOf(c.tenant);
      const n = healthNotification({ tenant: c.tenant, tenantName: record?.name, kind: c.kind, credential: c.credential, type: due.type, result });
      if (!dryRun) {
        await (notifier as Notifier).publish(n);
        // After the alert: a failure here repeats the alert tomorrow rather than losing it.
        await deps.store.tag(c.name, due.next);
      }
      summary.alerts.push({ tenant: c.tenant, credential: c.credential, kind: c.kind, type: due.type, severity: n.attributes.severity, subject: n.subject });
    } catch (err) {
      fail(recordError(c.name, err));
      if (!(err instanceof SesameError)) deps.log.error('health check: unexpected failure', { secret: c.name, ...describeError(err) });
    }
  };

  // The busiest hosts first, so that the longest queue does not start last.
  const queues = [...hosts.entries()].sort((a, b) => b[1].length - a[1].length);
  await eachLimit(queues, concurrency, async ([host, list]) => {
    for (const [i, c] of list.entries()) {
      // No call leaves for the empty host: nothing to spread.
      if (i > 0 && host !== '' && gap > 0) await sleep(gap);
      await checkOne(c);
    }
  });

  summary.errors = summary.failures.length;
  deps.log.info('health check done', {
    at: summary.at,
    dry_run: dryRun,
    checked: summary.checked,
    ok: summary.ok,
    failed: summary.failed,
    not_testable: summary.not_testable,
    errors: summary.errors,
    hosts: summary.hosts,
    alerts: summary.alerts.length,
  });
  return summary;
}
