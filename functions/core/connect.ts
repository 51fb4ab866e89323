import { createHash, randomBytes } from 'node:crypto';
import { actor, audit, type AuditActor, type AuditSink } from './audit.ts';
import { certificateProfile } from './certificates/profiles.ts';
import type { CertificateReport } from './certificates/validator.ts';
import { credentialSecretName, type Credentials } from './credentials.ts';
import { describeError, isSesameError, SesameError } from './errors.ts';
import { parseCredentialId, parseTenantId } from './ids.ts';
import { FILE_NAME_PATTERN, processCertificate, verdictEntry, type IntakeDeps } from './intake.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './oauth.ts';
import { calendarDay, endOfFrenchDay } from './platforms/fields.ts';
import { KINDS, platformOf } from './platforms/index.ts';
import { ENDPOINT_SETTINGS, ENVIRONMENTS, type ConnectField, type ConnectSpec, type Environment, type Integrator, type Platform, type PlatformContext } from './platforms/types.ts';
import { failureText, probeCredential, type ProbeResult } from './probe.ts';
import type { Clock, HttpClient, Log, Notification, Notifier, SecretStore, StateItem, StateStore } from './ports.ts';
import { alertEmailOf, type Tenant, type Tenants } from './tenants.ts';
import type { Text } from './text.ts';
import { validate } from './validate.ts';

/**
 * Connect links (DESIGN.md, "Console and connect links"): a client's own administrator
 * hands one credential over through a one-time link. The link's token (256 random bits)
 * is shown once, in the URL; the state store keeps only its SHA-256, under
 * `link#<sha256>`. A link is scoped to one tenant credential, time-limited and used once:
 * the first submission that stores a credential marks it used with a conditional write.
 * Unknown, used and expired links are one and the same answer (`undefined` here), so
 * that links cannot be probed. Log lines name a link by its hash's first 12 characters.
 */

export const LINK_DEFAULT_SECONDS = 7 * 86_400;
export const LINK_MAX_SECONDS = 30 * 86_400;
export const LINK_MIN_SECONDS = 300;
/** Submissions per hour: per link, and per source address. */
export const SUBMITS_PER_LINK = 10;
export const SUBMITS_PER_SOURCE = 30;
const HOUR = 3600;

/** Where a pending FLA key pair waits between the link's first open and its submission. */
export const PENDING_KEY_PREFIX = 'sesame-connect/';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The integrator, from the configuration: named on the page; its OPCO headers are never asked of the client. */
export type { Integrator } from './platforms/types.ts';

export function integratorFromEnv(env: NodeJS.ProcessEnv = process.env): Integrator {
  const v = (name: string) => (env[name] && env[name]!.trim() !== '' ? env[name]!.trim().slice(0, 256) : undefined);
  const i: Integrator = {};
  const name = v('SESAME_INTEGRATOR_NAME');
  const editeur = v('SESAME_OPCO_EDITEUR');
  const logiciel = v('SESAME_OPCO_LOGICIEL');
  const version = v('SESAME_OPCO_VERSION');
  if (name) i.name = name;
  if (editeur) i.editeur = editeur;
  if (logiciel) i.logiciel = logiciel;
  if (version) i.version = version;
  return i;
}

/** The public base URL the links are built on (SESAME_PUBLIC_URL; locally, `sesame dev`'s default address). */
export function publicUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return (env.SESAME_PUBLIC_URL || 'http://127.0.0.1:8787').replace(/\/+$/, '');
}

export interface LinkData {
  tenant: string;
  credential: string;
  kind: string;
  fields: string[];
  created_at: string;
  expires_at: string;
  status: 'open' | 'used' | 'replaced';
  /** The operator's `sub`, or `cli`. */
  created_by: string;
  used_at?: string;
  /** FLA: the certificate Sesame generated on the first open (its private key is in the secret store). */
  fla?: { sha256: string; not_after: string };
  /** A new credential's environment (an existing one keeps its own). */
  environment?: Environment;
  /** Non-secret settings the operator gave for the credential (an OPCO's base URL, a PISTE client id…), stored with what the client submits. */
  settings?: Record<string, string>;
  /** Set when a newer link for the same credential replaced this one. */
  replaced_at?: string;
}

export interface ConnectDeps {
  state: StateStore;
  store: SecretStore;
  tenants: Tenants;
  credentials: Credentials;
  clock: Clock;
  log: Log;
  http: HttpClient;
  retry?: RetryPolicy;
  notifier?: Notifier;
  /** The certificate intake (Chorus EDI uploads go through it). */
  intake?: IntakeDeps;
  integrator?: Integrator;
  /** Base of the links' URLs. */
  publicUrl: string;
  /** Links made and submissions through them are recorded here. */
  audit?: AuditSink;
}

/** Who made a link, for the audit trail: `cli`, the expiry run, or an operator's OIDC subject. */
const creator = (createdBy: string): AuditActor => (createdBy === 'cli' ? actor.cli() : createdBy === 'expiry' ? actor.system('expiry') : actor.operator(createdBy));

export interface CreateLinkInput {
  tenant: string;
  credential: string;
  /** Field names to ask; default: the platform's usual ones. */
  fields?: string[];
  /** Lifetime in seconds, or a duration such as `7d`, `12h`, `30m`. */
  valid?: number | string;
  createdBy: string;
  /**
   * Also send the link to this address, which must be one of the tenant's alert
   * addresses: checked before the link is made (see `send`).
   */
  email?: string;
  /** For a credential that does not exist yet: its environment (default: the platform's first). */
  environment?: string;
  /** Non-secret settings of the credential, among those the platform lets an operator give (ConnectSpec.settings). */
  settings?: Record<string, string>;
}

export interface CreatedLink {
  url: string;
  expires_at: string;
  tenant: string;
  credential: string;
  kind: string;
  fields: string[];
  /** The alert address the link was sent to (with `email`). */
  sent_to?: string;
}

/** What the page shows for an open link: never a current value of the credential. */
export interface LinkView {
  hash: string;
  tenant: { id: string; name: string };
  credential: string;
  kind: string;
  title: Text;
  integrator: string | undefined;
  spec: ConnectSpec;
  fields: ConnectField[];
  expires_at: string;
  environment: Environment;
  fla?: { sha256: string; not_after: string };
}

export type SubmitResult =
  | { status: 'gone' }
  | { status: 'throttled'; retryAfter: number }
  | { status: 'invalid'; view: LinkView; message: Text; report?: CertificateReport }
  | { status: 'check_failed'; view: LinkView; message: Text }
  | { status: 'stored'; view: LinkView; checked: boolean; report?: CertificateReport; check?: ProbeResult };

export interface SubmitInput {
  fields: Record<string, string>;
  file?: { name: string; bytes: Uint8Array };
  /** The caller's address, for the per-source throttle. */
  source?: string;
}

export const linkHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const linkPk = (hash: string) => `link#${hash}`;
const LINK_SK = 'link';
const short = (hash: string) => hash.slice(0, 12);

/** `2027-01-08 05:00 UTC`: a link's end, to the minute. */
export const linkEnd = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The message that hands a link to one of the tenant's alert addresses, French then
 * English: who asks (the integrator), for which tenant and platform, until when, the
 * URL. The subject names the credential only: never the URL nor its token.
 */
export function linkNotification(input: { link: CreatedLink; tenantName: string; title: Text; integrator: string | undefined; to: string }): Notification {
  const { link, tenantName, title, to } = input;
  const end = linkEnd(link.expires_at);
  const asker = { fr: input.integrator ?? 'Votre intégrateur', en: input.integrator ?? 'Your integrator' };
  const who = `${tenantName}${tenantName !== link.tenant ? ` (${link.tenant})` : ''}`;
  // Ids only (SNS subjects are ASCII), whole: the credential gives way when both do not fit.
  const full = `[Sesame] Connect link: ${link.tenant}/${link.credential}`;
  const subject = full.length <= 100 ? full : `[Sesame] Connect link for ${link.tenant}`;
  const message = [
    `À l’attention de : ${to}`,
    '',
    `${asker.fr} demande à ${who} de transmettre l’identifiant « ${link.credential} » (${title.fr}) par un lien de connexion.`,
    'Ouvrez le lien, suivez les étapes indiquées pour cette plateforme, puis saisissez les valeurs demandées : elles sont enregistrées directement, sans passer par un e-mail.',
    `Le lien sert une seule fois et expire le ${end} :`,
    link.url,
    'Ne transférez pas ce message : le lien suffit pour transmettre l’identifiant.',
    '',
    '---',
    '',
    `For: ${to}`,
    '',
    `${asker.en} asks ${who} to hand over the credential "${link.credential}" (${title.en}) through a connect link.`,
    'Open the link, follow the steps shown for this platform, then enter the values asked: they are stored directly, without going through an email.',
    `The link works once and expires on ${end}:`,
    link.url,
    'Do not forward this message: the link is enough to hand the credential over.',
  ].join('\n');
  return { subject, message, attributes: { tenant: link.tenant, kind: link.kind, severity: 'info' } };
}

/** `7d`, `12h`, `30m`, or seconds; within LINK_MIN_SECONDS..LINK_MAX_SECONDS. */
export function parseValidity(valid: number | string | undefined): number {
  if (valid === undefined) return LINK_DEFAULT_SECONDS;
  let seconds: number;
  if (typeof valid === 'number') seconds = valid;
  else {
    const m = /^(\d{1,6})([mhd])$/.exec(valid.trim());
    if (!m) throw new SesameError('invalid_request', `validity "${valid.slice(0, 20)}" must be a number of minutes, hours or days, e.g. 30m, 12h, 7d`, { details: { field: 'valid' } });
    seconds = Number(m[1]) * (m[2] === 'm' ? 60 : m[2] === 'h' ? 3600 : 86_400);
  }
  if (!Number.isInteger(seconds) || seconds < LINK_MIN_SECONDS || seconds > LINK_MAX_SECONDS) {
    throw new SesameError('invalid_request', `a link is valid from ${LINK_MIN_SECONDS / 60} minutes to ${LINK_MAX_SECONDS / 86_400} days`, { details: { field: 'valid' } });
  }
  return seconds;
}

function connectSpec(platform: Platform): ConnectSpec {
  if (!platform.connect) throw new SesameError('invalid_request', `${platform.kind} credentials cannot be handed over through a connect link`, { details: { field: 'credential' } });
  return platform.connect;
}

/**
 * The end of validity the platform itself gave (an OPCO's `dateFinValidite`) replaces the
 * one typed or derived: it is the date the key really stops. Kept only when the
 * platform's own rules accept it (Ocapiat: 6 months at most), else what was typed stays.
 */
function withPlatformEnd(platform: Platform, merged: Record<string, unknown>, expiresAt: string, ctx: PlatformContext): Record<string, unknown> {
  const { lifetime_months: _l, ...rest } = merged;
  const candidate = { ...rest, expires_at: expiresAt };
  try {
    const fields = validate(platform.schema, candidate, `${platform.kind} credential`);
    if (platform.prepare) platform.prepare(fields, ctx);
    return candidate;
  } catch (err) {
    if (!isSesameError(err, 'invalid_request')) throw err;
    return merged;
  }
}

/** The operator's settings for a link: only the platform's non-secret settings, each valid for its field. */
function linkSettings(platform: Platform, spec: ConnectSpec, settings: Record<string, string> | undefined, asked: readonly string[]): Record<string, string> | undefined {
  if (!settings || Object.keys(settings).length === 0) return undefined;
  const allowed = new Set((spec.settings ?? []).filter((name) => !platform.secretFields.includes(name)));
  const shape = (platform.schema as unknown as { shape?: Record<string, { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }> }).shape ?? {};
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (!allowed.has(name)) {
      throw new SesameError('invalid_request', `${platform.kind} links take the settings ${[...allowed].join(', ') || '(none)'}; not "${name.slice(0, 64)}"`, { details: { field: 'settings' } });
    }
    if (asked.includes(name)) throw new SesameError('invalid_request', `"${name}" is asked of the client on this link: it cannot be a setting too`, { details: { field: 'settings' } });
    const checked = typeof value === 'string' && value.length <= 2048 ? shape[name]?.safeParse(value) : { success: false, error: { issues: [{ message: 'must be a string of at most 2048 characters' }] } };
    if (!checked?.success) throw new SesameError('invalid_request', `setting "${name}" ${checked?.error?.issues[0]?.message ?? 'is not valid'}`, { details: { field: `settings.${name}` } });
    out[name] = value;
  }
  return out;
}

/** A new credential's environment: one of the platform's. An existing credential keeps its own, and a link cannot change it. */
function linkEnvironment(platform: Platform, asked: string | undefined, existing: Environment | undefined, credential: string): Environment | undefined {
  if (asked === undefined) return undefined;
  if (!(ENVIRONMENTS as readonly string[]).includes(asked) || !platform.environments.includes(asked as Environment)) {
    throw new SesameError('invalid_request', `${platform.kind} credentials are in ${platform.environments.join(' or ')}; not "${asked.slice(0, 20)}"`, { details: { field: 'environment' } });
  }
  if (existing && existing !== asked) {
    throw new SesameError('invalid_request', `credential "${credential}" is in ${existing}: a link hands over a new version in that environment, not in ${asked}`, { details: { field: 'environment' } });
  }
  return asked as Environment;
}

const asObject = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {});

export class Connect {
  private readonly retry: RetryPolicy;

  constructor(private readonly deps: ConnectDeps) {
    this.retry = deps.retry ?? DEFAULT_RETRY;
  }

  /** A new link; the URL (with its token) is returned once and stored nowhere. */
  async create(input: CreateLinkInput): Promise<CreatedLink> {
    const tenant = parseTenantId(input.tenant);
    const { id: credential, kind } = parseCredentialId(input.credential, KINDS);
    const spec = connectSpec(platformOf(kind));
    const known = new Set(spec.fields.map((f) => f.name));
    const fields = input.fields && input.fields.length > 0 ? [...new Set(input.fields)] : [...spec.requested];
    const unknown = fields.filter((f) => !known.has(f));
    if (unknown.length > 0) {
      throw new SesameError('invalid_request', `${kind} links can ask for ${[...known].join(', ')}; not ${unknown.join(', ')}`, { details: { field: 'fields' } });
    }
    const seconds = parseValidity(input.valid);
    const settings = linkSettings(platformOf(kind), spec, input.settings, fields);
    if (settings && input.createdBy !== 'cli') {
      const endpoints = Object.keys(settings).filter((k) => ENDPOINT_SETTINGS.includes(k));
      if (endpoints.length > 0) {
        throw new SesameError('invalid_request', `${endpoints.join(', ')} says where the credential's secrets are sent: only an administrator sets it, with \`sesame connect … --set\` or \`sesame credential set --merge\``, { details: { field: 'settings' } });
      }
    }
    const record = await this.deps.tenants.get(tenant);
    // Refused before anything is written: no link is made for an address it cannot go to.
    const to = input.email !== undefined ? this.recipient(record, input.email) : undefined;
    const existing = await this.deps.credentials.findForUpdate(tenant, credential);
    // A link never sends a stored credential's secrets somewhere else than they go now.
    const moved = settings && existing ? Object.keys(settings).filter((k) => ENDPOINT_SETTINGS.includes(k) && (existing.fields as Record<string, unknown>)[k] !== undefined && (existing.fields as Record<string, unknown>)[k] !== settings[k]) : [];
    if (moved.length > 0) {
      throw new SesameError('invalid_request', `credential "${credential}" already sends its secrets to its own ${moved.join(', ')}: a link cannot change it; use \`sesame credential set --merge\``, { details: { field: 'settings' } });
    }
    const environment = linkEnvironment(platformOf(kind), input.environment, existing?.environment, credential);
    // A certificate is judged against the credential's profile: a Chorus EDI credential must exist (as a client certificate by default).
    if (spec.mode === 'certificate' && !existing) {
      await this.deps.credentials.set({ tenant, credential, kind, fields: {}, ...(environment ? { environment } : {}) });
    }
    const now = this.deps.clock.now();
    const expires = new Date(now.getTime() + seconds * 1000);
    const token = randomBytes(32).toString('base64url');
    const hash = linkHash(token);
    const data: LinkData = {
      tenant,
      credential,
      kind,
      fields,
      created_at: now.toISOString(),
      expires_at: expires.toISOString(),
      status: 'open',
      created_by: input.createdBy.slice(0, 320),
      ...(environment && !existing ? { environment } : {}),
      ...(settings ? { settings } : {}),
    };
    await this.deps.state.put({ pk: linkPk(hash), sk: LINK_SK, expiresAt: Math.floor(expires.getTime() / 1000), data: data as unknown as Record<string, unknown> }, { ifAbsent: true });
    const replaced = await this.replacePrevious(tenant, credential, hash, expires);
    this.deps.audit?.record(audit.linkCreated({ actor: creator(data.created_by), tenant, credential, link: hash, expiresAt: data.expires_at, fields, ...(to ? { sentTo: to } : {}) }));
    this.deps.log.info('connect link created', { tenant, credential, kind, link: short(hash), expires_at: data.expires_at, created_by: data.created_by, fields, ...(settings ? { settings: Object.keys(settings) } : {}), ...(replaced ? { replaced: short(replaced) } : {}) });
    const link: CreatedLink = { url: `${this.deps.publicUrl}/connect/${token}`, expires_at: data.expires_at, tenant, credential, kind, fields };
    if (to === undefined) return link;
    await this.publishLink(link, record, to);
    return { ...link, sent_to: to };
  }

  /**
   * One open link per credential: the newest. The credential's index record names its
   * latest link; the one it named before is marked replaced, so that an older link (in
   * an earlier alert, say) can no longer be used, and an FLA key pair made for it is
   * emptied. Racing creations both end replaced but one, as the index write is conditional.
   */
  private async replacePrevious(tenant: string, credential: string, hash: string, expires: Date): Promise<string | undefined> {
    const pk = `links#${tenant}/${credential}`;
    for (let attempt = 0; attempt < 8; attempt++) {
      const index = await this.deps.state.get(pk, 'latest');
      const previous = typeof index?.data.hash === 'string' ? index.data.hash : undefined;
      const until = Math.max(Math.floor(expires.getTime() / 1000), index?.expiresAt ?? 0);
      try {
        await this.deps.state.put({ pk, sk: 'latest', expiresAt: until, data: { hash } }, index ? { ifVersion: index.version } : { ifAbsent: true });
      } catch (err) {
        if (!isSesameError(err, 'conflict')) throw err;
        continue;
      }
      if (previous && previous !== hash) await this.markReplaced(previous);
      return previous;
    }
    throw new SesameError('conflict', `links for "${credential}" of tenant "${tenant}" are being created too often at once; try again`);
  }

  private async markReplaced(hash: string): Promise<void> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const item = await this.deps.state.get(linkPk(hash), LINK_SK);
      if (!item || item.data.status !== 'open') return;
      try {
        await this.deps.state.put(
          { pk: item.pk, sk: item.sk, ...(item.expiresAt !== undefined ? { expiresAt: item.expiresAt } : {}), data: { ...item.data, status: 'replaced', replaced_at: this.deps.clock.now().toISOString() } },
          { ifVersion: item.version },
        );
      } catch (err) {
        if (!isSesameError(err, 'conflict')) throw err;
        continue;
      }
      // Its key pair was never registered through this link: nothing of it must stay.
      if (item.data.fla) await this.discardPendingKey(hash);
      return;
    }
  }

  /**
   * A pending FLA key pair is destroyed with every version of it where the store can
   * (Secrets Manager keeps a put's previous value as AWSPREVIOUS); a store that cannot
   * gets its value emptied. A failure is logged: the expiry run's sweep retries it.
   */
  private async discardPendingKey(hash: string): Promise<void> {
    const name = `${PENDING_KEY_PREFIX}${hash}`;
    try {
      if (this.deps.store.delete) await this.deps.store.delete(name);
      else await this.deps.store.put(name, { discarded_at: this.deps.clock.now().toISOString() });
    } catch (err) {
      this.deps.log.warn('pending key not discarded', { link: short(hash), ...describeError(err) });
    }
  }

  /**
   * Destroys the pending key pairs whose link can no longer be used (used, replaced,
   * expired or gone from the state table): run daily by the expiry check, so that a
   * link opened and never finished leaves no private key behind for long.
   */
  async sweepPendingKeys(): Promise<{ removed: number }> {
    let removed = 0;
    let nextToken: string | undefined;
    do {
      const page = await this.deps.store.list({ prefix: PENDING_KEY_PREFIX, ...(nextToken ? { nextToken } : {}) });
      for (const { name } of page.items) {
        const hash = name.slice(PENDING_KEY_PREFIX.length);
        const item = /^[0-9a-f]{64}$/.test(hash) ? await this.deps.state.get(linkPk(hash), LINK_SK) : undefined;
        const data = item?.data as LinkData | undefined;
        const open = data?.status === 'open' && Date.parse(data.expires_at) > this.deps.clock.now().getTime();
        if (open) continue;
        // A store that cannot delete keeps emptied values: those are done already.
        if (!this.deps.store.delete && typeof asObject((await this.deps.store.get(name))?.value).private_key !== 'string') continue;
        await this.discardPendingKey(hash);
        removed += 1;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    if (removed > 0) this.deps.log.info('pending key pairs discarded', { removed });
    return { removed };
  }

  /**
   * Sends a link to one of the tenant's alert addresses, through the Notifier: the
   * alerts topic in AWS, the outbox locally. The topic's email subscriptions filter on
   * the `tenant` message attribute only, so the message reaches every alert address of
   * the tenant subscribed to the topic (and any subscription without a filter, such as
   * the operator's), not that one person alone: an address that is not an alert
   * address of the tenant is refused, and the message names the one it is meant for.
   */
  async send(link: CreatedLink, options: { to: string }): Promise<{ sent_to: string }> {
    const record = await this.deps.tenants.get(link.tenant);
    const to = this.recipient(record, options.to);
    await this.publishLink(link, record, to);
    return { sent_to: to };
  }

  /** The tenant's alert address `email` stands for; refuses any other address, and a system without a notifier. */
  private recipient(tenant: Tenant, email: string): string {
    const found = alertEmailOf(tenant, email);
    if (!found) {
      throw new SesameError(
        'invalid_request',
        `"${email.slice(0, 254)}" is not an alert address of tenant "${tenant.id}" (${tenant.alert_emails.join(', ') || 'none'}): a link is sent through the alerts topic, which reaches the tenant's alert addresses; add it first with \`sesame tenant set ${tenant.id} --alert-email <address>\``,
        { details: { field: 'email', tenant: tenant.id } },
      );
    }
    if (!this.deps.notifier) throw new SesameError('invalid_request', 'no alerts topic configured: the link cannot be sent; give the URL to the client yourself', { details: { field: 'email' } });
    return found;
  }

  private async publishLink(link: CreatedLink, tenant: Tenant, to: string): Promise<void> {
    const token = link.url.slice(link.url.lastIndexOf('/') + 1);
    const platform = platformOf(link.kind);
    await (this.deps.notifier as Notifier).publish(linkNotification({ link, tenantName: tenant.name, title: platform.title, integrator: this.deps.integrator?.name, to }));
    // The address, the link's hash prefix: never the URL.
    this.deps.log.info('connect link sent', { tenant: link.tenant, credential: link.credential, kind: link.kind, link: short(linkHash(token)), to, via: 'notifier' });
  }

  /** The open link for a token, or undefined: unknown, used and expired alike. */
  private async resolve(token: string): Promise<{ item: StateItem; data: LinkData; hash: string } | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const hash = linkHash(token);
    const item = await this.deps.state.get(linkPk(hash), LINK_SK);
    if (!item) return undefined;
    const data = item.data as unknown as LinkData;
    if (data.status !== 'open' || Date.parse(data.expires_at) <= this.deps.clock.now().getTime()) return undefined;
    return { item, data, hash };
  }

  /** The page's contents for an open link; for FLA, the key pair is generated on the first open. */
  async view(token: string): Promise<LinkView | undefined> {
    const link = await this.resolve(token);
    if (!link) return undefined;
    return this.buildView(link);
  }

  private async buildView(link: { item: StateItem; data: LinkData; hash: string }): Promise<LinkView> {
    const { data, hash } = link;
    const platform = platformOf(data.kind);
    const spec = connectSpec(platform);
    const tenant = await this.deps.tenants.get(data.tenant);
    const current = await this.current(data);
    let fla = data.fla;
    if (spec.mode === 'keygen' && !fla) fla = await this.ensureKeyPair(link, tenant.name);
    const asked = new Set(data.fields);
    // FLA: the capacity is asked when no stored credential tells it.
    if (spec.mode === 'keygen' && typeof current.fields.quality !== 'string' && !data.settings?.quality) asked.add('quality');
    const fields = spec.fields.filter((f) => asked.has(f.name) || f.optional);
    return {
      hash,
      tenant: { id: tenant.id, name: tenant.name },
      credential: data.credential,
      kind: data.kind,
      title: platform.title,
      integrator: this.deps.integrator?.name,
      spec,
      fields,
      expires_at: data.expires_at,
      environment: current.environment,
      ...(fla ? { fla } : {}),
    };
  }

  /** The stored credential's fields as they are (none for a new one) and its environment. */
  private async current(data: LinkData): Promise<{ fields: Record<string, unknown>; environment: Environment; exists: boolean }> {
    const found = await this.deps.credentials.findForUpdate(data.tenant, data.credential);
    const secret = found ? await this.deps.store.get(credentialSecretName(data.tenant, data.credential)) : undefined;
    const platform = platformOf(data.kind);
    return {
      fields: asObject(asObject(secret?.value).fields),
      environment: found?.environment ?? data.environment ?? (platform.environments[0] as Environment),
      exists: found !== undefined,
    };
  }

  /**
   * FLA: a key pair and a self-signed certificate for Chaman, made once per link. The
   * private key goes to the secret store only (`sesame-connect/<hash>`); the link keeps
   * the certificate's fingerprint.
   */
  private async ensureKeyPair(link: { item: StateItem; data: LinkData; hash: string }, tenantName: string): Promise<{ sha256: string; not_after: string }> {
    const name = `${PENDING_KEY_PREFIX}${link.hash}`;
    const now = this.deps.clock.now();
    const generate = async () => {
      // Loaded by the first link that makes a key: the other requests need neither.
      const [{ selfSignedCertificate }, { validateCertificate }] = await Promise.all([import('./certificates/self-signed.ts'), import('./certificates/validator.ts')]);
      const cert = await selfSignedCertificate({ type: 'rsa', bits: 3072 }, { CN: tenantName, O: tenantName, C: 'BE' }, { from: new Date(now.getTime() - 300_000), days: 1095 });
      const privateKey = cert.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const report = validateCertificate(cert.der, certificateProfile('fla'), { at: now, privateKeyPem: privateKey });
      const leaf = report.certificates[0];
      if (!report.valid || !leaf) throw new SesameError('internal', `the generated certificate failed the fla profile: ${report.errors.map((e) => e.code).join(', ')}`);
      return { private_key: privateKey, certificate: cert.pem, sha256: leaf.sha256, not_after: leaf.not_after, created_at: now.toISOString() };
    };
    let pending: { sha256: string; not_after: string };
    const tags = { 'sesame:type': 'connect-pending-key', 'sesame:tenant': link.data.tenant };
    if (this.deps.store.update) {
      let kept: { sha256: string; not_after: string } | undefined;
      await this.deps.store.update(name, async (existing) => {
        const v = asObject(existing?.value);
        if (typeof v.private_key === 'string' && typeof v.sha256 === 'string') {
          kept = { sha256: v.sha256, not_after: String(v.not_after) };
          return undefined;
        }
        const made = await generate();
        kept = { sha256: made.sha256, not_after: made.not_after };
        return { value: made, tags };
      });
      pending = kept as { sha256: string; not_after: string };
    } else {
      const existing = asObject((await this.deps.store.get(name))?.value);
      if (typeof existing.private_key === 'string' && typeof existing.sha256 === 'string') pending = { sha256: existing.sha256, not_after: String(existing.not_after) };
      else {
        const made = await generate();
        await this.deps.store.put(name, made, tags);
        pending = { sha256: made.sha256, not_after: made.not_after };
      }
    }
    try {
      await this.deps.state.put({ pk: link.item.pk, sk: link.item.sk, ...(link.item.expiresAt !== undefined ? { expiresAt: link.item.expiresAt } : {}), data: { ...link.item.data, fla: pending } }, { ifVersion: link.item.version });
    } catch (err) {
      if (!isSesameError(err, 'conflict')) throw err; // another open recorded it first: the store holds one pair
    }
    this.deps.log.info('connect link key pair ready', { tenant: link.data.tenant, credential: link.data.credential, link: short(link.hash), sha256: pending.sha256 });
    return pending;
  }

  /** FLA: the generated certificate (DER), to register in Chaman; undefined when the link is not open. */
  async certificate(token: string): Promise<{ der: Uint8Array; fileName: string } | undefined> {
    const link = await this.resolve(token);
    if (!link || platformOf(link.data.kind).connect?.mode !== 'keygen') return undefined;
    if (!link.data.fla) await this.buildView(link);
    const pending = asObject((await this.deps.store.get(`${PENDING_KEY_PREFIX}${link.hash}`))?.value);
    if (typeof pending.certificate !== 'string') return undefined;
    const b64 = pending.certificate.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    return { der: new Uint8Array(Buffer.from(b64, 'base64')), fileName: `${link.data.tenant}-${link.data.credential}.cer` };
  }

  /** One submission: throttled, validated, checked upstream where possible, stored once; recorded in the audit trail. */
  async submit(token: string, input: SubmitInput): Promise<SubmitResult> {
    const link = await this.resolve(token);
    // Unknown, used and expired links name no credential: nothing to record.
    if (!link) return { status: 'gone' };
    const where = { link: link.hash, tenant: link.data.tenant, credential: link.data.credential };
    try {
      const result = await this.submitTo(link, input);
      if (result.status === 'stored') this.deps.audit?.record(audit.linkUsed({ ...where, checked: result.checked }));
      else this.deps.audit?.record(audit.linkUsed({ ...where, reason: result.status }));
      return result;
    } catch (err) {
      this.deps.audit?.record(audit.linkUsed({ ...where, error: err }));
      throw err;
    }
  }

  private async submitTo(link: { item: StateItem; data: LinkData; hash: string }, input: SubmitInput): Promise<SubmitResult> {
    const { data, hash } = link;
    const log = { tenant: data.tenant, credential: data.credential, kind: data.kind, link: short(hash) };
    const hour = Math.floor(this.deps.clock.now().getTime() / 1000 / HOUR);
    const overLink = await this.count(linkPk(hash), `submits#${hour}`, SUBMITS_PER_LINK, hour);
    const overSource = input.source ? await this.count(`connect-source#${linkHash(input.source)}`, `submits#${hour}`, SUBMITS_PER_SOURCE, hour) : false;
    if (overLink || overSource) {
      this.deps.log.warn('connect submission throttled', { ...log, per: overLink ? 'link' : 'source' });
      return { status: 'throttled', retryAfter: (hour + 1) * HOUR - Math.floor(this.deps.clock.now().getTime() / 1000) };
    }
    const view = await this.buildView(link);
    const platform = platformOf(data.kind);
    const spec = view.spec;
    if (spec.mode === 'certificate') return this.submitCertificate(link, view, input, log);

    // The fields asked, as typed; nothing else from the form is taken.
    const submitted: Record<string, unknown> = {};
    for (const f of view.fields) {
      const raw = (input.fields[f.name] ?? '').trim();
      if (raw === '') {
        if (f.optional) continue;
        return { status: 'invalid', view, message: { fr: `Le champ « ${f.label.fr} » est obligatoire.`, en: `The field "${f.label.en}" is required.` } };
      }
      if (f.type === 'number') {
        const n = Number(raw);
        if (!Number.isInteger(n) || (f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) {
          return { status: 'invalid', view, message: { fr: `« ${f.label.fr} » doit être un nombre entier de ${f.min ?? 0} à ${f.max ?? '…'}.`, en: `"${f.label.en}" must be a whole number from ${f.min ?? 0} to ${f.max ?? '…'}.` } };
        }
        submitted[f.name] = n;
      } else if (f.type === 'date') {
        const day = calendarDay(raw);
        if (!day) return { status: 'invalid', view, message: { fr: `« ${f.label.fr} » doit être une date (AAAA-MM-JJ).`, en: `"${f.label.en}" must be a date (YYYY-MM-DD).` } };
        const end = endOfFrenchDay(day);
        if (end.getTime() <= this.deps.clock.now().getTime()) return { status: 'invalid', view, message: { fr: `« ${f.label.fr} » est passée : une clé expirée ne peut pas être enregistrée.`, en: `"${f.label.en}" is in the past: an expired key cannot be stored.` } };
        submitted[f.name] = end.toISOString();
      } else if (f.type === 'select') {
        if (!f.options?.some((o) => o.value === raw)) return { status: 'invalid', view, message: { fr: `Choisir une valeur pour « ${f.label.fr} ».`, en: `Choose a value for "${f.label.en}".` } };
        submitted[f.name] = raw;
      } else submitted[f.name] = raw;
    }

    const now = this.deps.clock.now();
    const current = await this.current(data);
    let stored = { ...current.fields, ...(data.settings ?? {}) };
    if (spec.mode === 'keygen') {
      const pending = asObject((await this.deps.store.get(`${PENDING_KEY_PREFIX}${hash}`))?.value);
      if (typeof pending.private_key !== 'string' || typeof pending.certificate !== 'string') throw new SesameError('internal', 'the link\'s key pair is missing from the secret store');
      // A new key pair ends any rotation in progress: its next and previous keys go with the old key.
      const { client_id: _c, private_key: _p, certificate: _ce, certificate_sha256: _s, kid: _k, alg: _a, next: _n, previous: _pr, ...kept } = stored;
      stored = { ...kept, private_key: pending.private_key, certificate: pending.certificate, certificate_sha256: pending.sha256, alg: 'RS256' };
    }
    let merged = spec.merge ? spec.merge(stored, submitted, { now, integrator: this.deps.integrator ?? {} }) : { ...stored, ...submitted };
    const ctx: PlatformContext = { tenant: data.tenant, credential: data.credential, environment: current.environment, clock: this.deps.clock };
    let fields: unknown;
    try {
      fields = validate(platform.schema, merged, `${data.kind} credential`);
      if (platform.prepare) fields = platform.prepare(fields, ctx);
    } catch (err) {
      if (!isSesameError(err, 'invalid_request')) throw err;
      this.deps.log.info('connect submission refused', { ...log, reason: 'invalid', field: err.details.field });
      return { status: 'invalid', view, message: { fr: `Les valeurs saisies ne conviennent pas : ${err.message}`, en: `The values entered do not fit: ${err.message}` } };
    }

    let check: ProbeResult | undefined;
    if (spec.check) {
      // Not cached and not served: only to know that the platform accepts these credentials.
      const tenant = await this.deps.tenants.get(data.tenant);
      const ids = { ...(tenant.siren ? { siren: tenant.siren } : {}), ...(tenant.siret ? { siret: tenant.siret } : {}), ...(tenant.bce ? { bce: tenant.bce } : {}) };
      check = await probeCredential(platform, fields, { ...ctx, http: this.deps.http, retry: this.retry, tenantIds: ids }, this.deps.log);
      if (check.status === 'failed') {
        this.deps.log.info('connect submission refused', { ...log, reason: 'check failed', code: check.code });
        const why = failureText(check);
        return {
          status: 'check_failed',
          view,
          message:
            check.code === 'upstream_rejected'
              ? { fr: `${why.fr} Rien n’a été enregistré : vérifiez-les et réessayez.`, en: `${why.en} Nothing was stored: check them and try again.` }
              : { fr: `${why.fr} Rien n’a été enregistré : réessayez dans quelques minutes.`, en: `${why.en} Nothing was stored: try again in a few minutes.` },
        };
      }
      if (check.status === 'ok' && check.expires_at) merged = withPlatformEnd(platform, merged, check.expires_at, ctx);
    }
    const checked = check?.status === 'ok';

    const claimed = await this.claim(link);
    if (!claimed) return { status: 'gone' };
    try {
      await this.deps.credentials.set({ tenant: data.tenant, credential: data.credential, kind: data.kind, environment: current.environment, fields: merged });
    } catch (err) {
      await this.reopen(claimed, link.hash);
      throw err;
    }
    // The key now lives in the credential: no second copy stays.
    if (spec.mode === 'keygen') await this.discardPendingKey(hash);
    await this.notifyStored(data, view, checked);
    this.deps.log.info('connect link used: credential stored', { ...log, checked, ...(check ? { check: check.status } : {}) });
    return { status: 'stored', view, checked, ...(check ? { check } : {}) };
  }

  private async submitCertificate(link: { item: StateItem; data: LinkData; hash: string }, view: LinkView, input: SubmitInput, log: Record<string, unknown>): Promise<SubmitResult> {
    const { data } = link;
    if (!this.deps.intake) throw new SesameError('internal', 'connect links for certificates need the certificate intake (an object store and a notifier)');
    if (!input.file || input.file.bytes.length === 0) return { status: 'invalid', view, message: { fr: 'Choisir le fichier du certificat.', en: 'Choose the certificate file.' } };
    const file = FILE_NAME_PATTERN.test(input.file.name) ? input.file.name : 'certificate.p7b';
    // Claimed first, so that two uploads cannot both be stored; given back when the file is refused.
    const claimed = await this.claim(link);
    if (!claimed) return { status: 'gone' };
    let result;
    try {
      result = await processCertificate(this.deps.intake, { tenant: data.tenant, credential: data.credential, file, bytes: input.file.bytes });
    } catch (err) {
      await this.reopen(claimed, link.hash);
      throw err;
    }
    const verdict = verdictEntry(actor.link(link.hash), 'link', result);
    if (verdict) this.deps.audit?.record(verdict);
    if (result.outcome === 'accepted' || result.outcome === 'unchanged') {
      await this.notifyStored(data, view, false);
      this.deps.log.info('connect link used: certificate stored', { ...log, outcome: result.outcome });
      return { status: 'stored', view, checked: false, ...(result.report ? { report: result.report } : {}) };
    }
    await this.reopen(claimed, link.hash);
    this.deps.log.info('connect submission refused', { ...log, reason: 'certificate', outcome: result.outcome });
    return {
      status: 'invalid',
      view,
      message:
        result.outcome === 'deleted'
          ? { fr: 'Ce fichier contenait une clé privée : il a été supprimé et rien n’a été enregistré. Considérez cette clé comme exposée, et déposez seulement le certificat (partie publique).', en: 'This file held a private key: it was deleted and nothing was stored. Treat that key as exposed, and upload the certificate only (the public part).' }
          : (result.reason ?? { fr: 'Le certificat est refusé ; rien n’a été enregistré. Le rapport ci-dessous dit pourquoi ; ce lien reste utilisable.', en: 'The certificate is refused; nothing was stored. The report below says why; this link stays usable.' }),
      ...(result.report ? { report: result.report } : {}),
    };
  }

  /** Marks the link used, if no one else did: the one write that lets a single submission win. */
  private async claim(link: { item: StateItem; hash: string }): Promise<StateItem | undefined> {
    try {
      return await this.deps.state.put(
        { pk: link.item.pk, sk: link.item.sk, ...(link.item.expiresAt !== undefined ? { expiresAt: link.item.expiresAt } : {}), data: { ...link.item.data, status: 'used', used_at: this.deps.clock.now().toISOString() } },
        { ifVersion: link.item.version },
      );
    } catch (err) {
      if (!isSesameError(err, 'conflict')) throw err;
      // Another submission changed the link meanwhile: it is used (or being used) now.
      return undefined;
    }
  }

  private async reopen(claimed: StateItem, hash: string): Promise<void> {
    const { used_at: _u, ...data } = claimed.data;
    try {
      await this.deps.state.put({ pk: claimed.pk, sk: claimed.sk, ...(claimed.expiresAt !== undefined ? { expiresAt: claimed.expiresAt } : {}), data: { ...data, status: 'open' } }, { ifVersion: claimed.version });
    } catch (err) {
      this.deps.log.error('connect link could not be reopened', { link: short(hash), ...describeError(err) });
    }
  }

  /** Counts one submission in the hour; true when over the limit. */
  private async count(pk: string, sk: string, limit: number, hour: number): Promise<boolean> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const item = await this.deps.state.get(pk, sk);
      const n = typeof item?.data.count === 'number' ? item.data.count : 0;
      if (n >= limit) return true;
      try {
        await this.deps.state.put({ pk, sk, expiresAt: (hour + 2) * HOUR, data: { count: n + 1 } }, item ? { ifVersion: item.version } : { ifAbsent: true });
        return false;
      } catch (err) {
        if (!isSesameError(err, 'conflict')) throw err;
      }
    }
    return true;
  }

  private async notifyStored(data: LinkData, view: LinkView, checked: boolean): Promise<void> {
    if (!this.deps.notifier) return;
    const who = `${view.tenant.name} (${data.tenant})`;
    try {
      await this.deps.notifier.publish({
        subject: `[Sesame] Credential handed over: ${data.tenant}/${data.credential}`.slice(0, 100),
        message: [
          `${who} a transmis l’identifiant « ${data.credential} » (${view.title.fr}) par un lien de connexion. Une nouvelle version est enregistrée ; la précédente est conservée.${checked ? ' Un jeton a été obtenu avec lui avant l’enregistrement.' : ''}`,
          '',
          `${who} handed over the credential "${data.credential}" (${view.title.en}) through a connect link. A new version is stored; the previous one is kept.${checked ? ' A token was obtained with it before storing it.' : ''}`,
        ].join('\n'),
        attributes: { tenant: data.tenant, kind: data.kind, severity: 'info' },
      });
    } catch (err) {
      this.deps.log.error('connect notification failed', { tenant: data.tenant, credential: data.credential, ...describeError(err) });
    }
  }
}
