import { algorithmFor, type AssertionAlg } from './assertion.ts';
import { actor as auditActor, audit, type AuditActor, type AuditSink } from './audit.ts';
import { certificateProfile } from './certificates/profiles.ts';
import type { KeySpec } from './certificates/self-signed.ts';
import type { Credential, Credentials, CredentialSummary } from './credentials.ts';
import { SesameError } from './errors.ts';
import { parseCredentialId, parseTenantId } from './ids.ts';
import type { RetryPolicy } from './oauth.ts';
import { chamanAddSteps, type FlaFields, type FlaNextKey, type FlaPreviousKey } from './platforms/fla.ts';
import { loadPrivateKey } from './platforms/fields.ts';
import { KINDS } from './platforms/index.ts';
import type { PlatformContext } from './platforms/types.ts';
import type { Clock, HttpClient, Log } from './ports.ts';
import { probeCredential, type ProbeResult } from './probe.ts';
import type { Tenant, Tenants } from './tenants.ts';
import type { Steps } from './text.ts';
import { parseCertificates } from './x509.ts';

/**
 * FLA key rotation without downtime (issue 13, part 2). A Chaman REST account may hold
 * several certificates, so a new key pair can be registered beside the one in use:
 *
 * 1. `keygenNext` stores the next key pair and its certificate beside the active key
 *    (the active key keeps signing); the operator adds that certificate to the same
 *    Chaman account.
 * 2. `activate` obtains a token with the next key alone (not cached, not served); only
 *    if that works, the next key becomes the active one and the active one the previous.
 * 3. `retire` drops the previous key, once the active one is seen to work alone.
 *
 * Meanwhile every token request signs with the active key, and the FLA material falls
 * back on the previous, then the next key when the token endpoint refuses it (see
 * functions/core/platforms/fla.ts and fetchToken): a rotation never makes one fail.
 *
 * Each step writes one new secret version (through Credentials.set, which validates and
 * re-tags it), is checked against a fresh read just before it writes, and is recorded in
 * the audit trail (never a key, only certificate fingerprints).
 */

export interface RotationDeps {
  credentials: Credentials;
  tenants: Tenants;
  http: HttpClient;
  clock: Clock;
  log: Log;
  retry: RetryPolicy;
  audit?: AuditSink;
}

/** One key of a rotation as anyone may see it: no key material. */
export interface KeyView {
  /** `RSA 3072`, `EC P-384`. */
  key: string;
  alg: AssertionAlg;
  certificate_sha256: string | null;
  /** The certificate's end of validity; null without a certificate. */
  not_after: string | null;
  /** Next keys: when it was generated. */
  created_at?: string;
  /** Previous keys: when activation replaced it. */
  replaced_at?: string;
}

export interface RotationState {
  tenant: string;
  credential: string;
  environment: string;
  client_id: string | null;
  active: KeyView;
  /** Waiting for `activate`: a fallback only, until then. */
  next: KeyView | null;
  /** Replaced by `activate`: a fallback until `retire`. */
  previous: KeyView | null;
  /** The next key's certificate (public, PEM): what Chaman is given. */
  next_certificate_pem: string | null;
}

export interface NextKeyOptions {
  /** Default: the active key's algorithm. */
  alg?: AssertionAlg;
  /** RSA only. Default: the active key's size when it is RSA, else 3072. */
  bits?: 2048 | 3072 | 4096;
  /** Certificate lifetime, 1 to 3650 days. Default 1095. */
  days?: number;
}

/** A next key pair made but not stored yet (`generateNext`): holds the private key, never show it. */
export interface GeneratedNextKey {
  tenant: string;
  credential: string;
  next: FlaNextKey;
  /** The certificate, DER: the .cer file Chaman takes. */
  certificate_der: Uint8Array;
  view: KeyView;
}

export interface NextStored extends CredentialSummary {
  next: KeyView;
  active: KeyView;
  /** What to do in Chaman: add the certificate to the same account. */
  steps: Steps;
  next_certificate_pem: string;
}

export interface Activated extends CredentialSummary {
  /** The check made with the next key alone, before anything was written. */
  check: Extract<ProbeResult, { status: 'ok' }>;
  active: KeyView;
  previous: KeyView;
  /** A previous key from an earlier rotation, not retired then: dropped now. */
  dropped: KeyView | null;
}

export interface Retired extends CredentialSummary {
  retired: KeyView;
  active: KeyView;
  /** The check made with the active key alone; absent with `force`. */
  check?: Extract<ProbeResult, { status: 'ok' }>;
  /** What to do in Chaman now: delete the retired certificate. */
  steps: Steps;
}

const DEFAULT_DAYS = 1095;

export class FlaRotation {
  constructor(private readonly deps: RotationDeps) {}

  /** Which keys a credential holds: active, next, previous. */
  async status(tenant: string, credential: string): Promise<RotationState> {
    const c = await this.load(tenant, credential);
    const f = c.fields as FlaFields;
    return {
      tenant: c.tenant,
      credential: c.credential,
      environment: c.environment,
      client_id: f.client_id ?? null,
      active: keyView(f),
      next: f.next ? keyView(f.next) : null,
      previous: f.previous ? keyView(f.previous) : null,
      next_certificate_pem: f.next?.certificate ?? null,
    };
  }

  /**
   * A next key pair and its self-signed certificate, checked against Chaman's rules;
   * nothing is stored (the CLI writes the .cer file first, then stores: see storeNext).
   * Refuses (conflict) when a next key exists and `replace` is not given.
   */
  async generateNext(tenant: string, credential: string, options: NextKeyOptions & { replace?: boolean } = {}): Promise<GeneratedNextKey> {
    const c = await this.load(tenant, credential);
    const f = c.fields as FlaFields;
    guardNext(c, f, options.replace);
    const days = options.days ?? DEFAULT_DAYS;
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new SesameError('invalid_request', 'the certificate lifetime must be from 1 to 3650 days', { details: { field: 'days' } });
    const active = loadPrivateKey(f.private_key);
    const alg = options.alg ?? (active && algorithmFor(active, f.alg)) ?? 'RS256';
    if (options.bits && alg.startsWith('ES')) throw new SesameError('invalid_request', `a key size is for RSA keys; ${alg} uses ${alg === 'ES384' ? 'P-384' : 'P-521'}`, { details: { field: 'bits' } });
    const activeBits = active?.asymmetricKeyType === 'rsa' ? active.asymmetricKeyDetails?.modulusLength : undefined;
    const spec: KeySpec = alg === 'ES384' ? { type: 'ec', curve: 'P-384' } : alg === 'ES512' ? { type: 'ec', curve: 'P-521' } : { type: 'rsa', bits: options.bits ?? (activeBits === 2048 || activeBits === 4096 ? activeBits : 3072) };
    const now = this.deps.clock.now();
    const made = await flaKeyPair(await this.deps.tenants.get(c.tenant), spec, now, days);
    const next: FlaNextKey = { private_key: made.privateKeyPem, certificate: made.pem, certificate_sha256: made.sha256, alg, created_at: now.toISOString() };
    return { tenant: c.tenant, credential: c.credential, next, certificate_der: made.der, view: keyView(next) };
  }

  /**
   * Stores a generated next key beside the active one: one new secret version, every
   * other field unchanged. Refuses (conflict) when a next key appeared meanwhile and
   * `replace` is not given, or when the active key changed since it was generated.
   */
  async storeNext(generated: GeneratedNextKey, options: { replace?: boolean; actor?: AuditActor } = {}): Promise<NextStored> {
    const { tenant, credential } = generated;
    const who = options.actor ?? auditActor.cli();
    try {
      const c = await this.load(tenant, credential);
      const f = c.fields as FlaFields;
      guardNext(c, f, options.replace);
      if (generated.next.private_key === f.private_key) throw new SesameError('conflict', 'the generated key is the active key');
      const summary = await this.deps.credentials.set({ tenant, credential, merge: true, fields: { next: generated.next } });
      this.record(who, tenant, credential, 'next_stored', generated.view.certificate_sha256);
      this.deps.log.info('next fla key stored', { tenant, credential, sha256: generated.view.certificate_sha256, alg: generated.view.alg });
      return { ...summary, next: generated.view, active: keyView(f), steps: chamanAddSteps(tenant, credential, f.client_id), next_certificate_pem: generated.next.certificate };
    } catch (err) {
      this.record(who, tenant, credential, 'next_stored', generated.view.certificate_sha256, err);
      throw err;
    }
  }

  /** generateNext then storeNext: for the admin API and the console, which hand out the certificate afterwards. */
  async keygenNext(tenant: string, credential: string, options: NextKeyOptions & { replace?: boolean; actor?: AuditActor } = {}): Promise<NextStored & { certificate_der: Uint8Array }> {
    const generated = await this.generateNext(tenant, credential, options);
    const stored = await this.storeNext(generated, { ...(options.replace !== undefined ? { replace: options.replace } : {}), ...(options.actor ? { actor: options.actor } : {}) });
    return { ...stored, certificate_der: generated.certificate_der };
  }

  /**
   * Obtains a token with the next key alone (not cached, not served). Only when that
   * works, writes one version where the next key is active and the active one previous
   * (a previous key of an earlier rotation is dropped). Otherwise nothing changes and it
   * throws: `conflict` (no next key), `credential_expired` (its certificate has lapsed),
   * `credential_incomplete` (no client id yet), `upstream_rejected` (the token endpoint
   * refused it: its certificate is not on the Chaman account yet), `upstream_unavailable`.
   */
  async activate(tenant: string, credential: string, options: { actor?: AuditActor } = {}): Promise<Activated> {
    const who = options.actor ?? auditActor.cli();
    let sha256: string | null = null;
    try {
      const c = await this.load(tenant, credential);
      const f = c.fields as FlaFields;
      const next = f.next;
      if (!next) {
        throw new SesameError('conflict', `${c.tenant}/${c.credential} has no next key to activate: make one with \`sesame fla keygen --next ${c.tenant} ${c.credential}\``, { details: { tenant: c.tenant, credential: c.credential } });
      }
      const nextView = keyView(next);
      sha256 = nextView.certificate_sha256;
      const promoted: FlaFields = {
        ...f,
        private_key: next.private_key,
        certificate: next.certificate,
        certificate_sha256: nextView.certificate_sha256 ?? undefined,
        alg: next.alg,
        kid: next.kid,
        next: undefined,
        previous: undefined,
      };
      const ctx = this.context(c);
      const now = this.deps.clock.now();
      for (const e of c.platform.expiries(promoted, ctx)) {
        if (e.at <= now) {
          throw new SesameError('credential_expired', `the next key's ${e.what.en} of ${c.tenant}/${c.credential} expired on ${e.at.toISOString()}: make another with \`sesame fla keygen --next --replace\`; nothing was changed`, {
            details: { tenant: c.tenant, credential: c.credential, expired_at: e.at.toISOString() },
          });
        }
      }
      const check = await this.check(c, promoted, ctx, 'next');
      // The check took a round trip: write only over what was checked.
      const again = (await this.load(tenant, credential)).fields as FlaFields;
      if (again.private_key !== f.private_key || again.next?.private_key !== next.private_key) {
        throw new SesameError('conflict', `the keys of ${c.tenant}/${c.credential} changed while the next key was being checked: nothing was changed, run the activation again`, { details: { tenant: c.tenant, credential: c.credential } });
      }
      const previous: FlaPreviousKey = {
        private_key: f.private_key,
        ...(f.certificate ? { certificate: f.certificate } : {}),
        ...(f.certificate_sha256 ? { certificate_sha256: f.certificate_sha256 } : {}),
        ...(f.alg ? { alg: f.alg } : {}),
        ...(f.kid ? { kid: f.kid } : {}),
        replaced_at: now.toISOString(),
      };
      const summary = await this.deps.credentials.set({
        tenant: c.tenant,
        credential: c.credential,
        merge: true,
        // Every key field named, so that nothing of the replaced key (its kid…) survives the merge.
        fields: { private_key: promoted.private_key, certificate: promoted.certificate, certificate_sha256: promoted.certificate_sha256, alg: promoted.alg, kid: promoted.kid, next: undefined, previous },
      });
      this.record(who, c.tenant, c.credential, 'activated', sha256);
      this.deps.log.info('fla key activated', { tenant: c.tenant, credential: c.credential, sha256, replaced_sha256: keyView(f).certificate_sha256 });
      return { ...summary, check, active: nextView, previous: keyView(previous), dropped: f.previous ? keyView(f.previous) : null };
    } catch (err) {
      this.record(who, tenant, credential, 'activated', sha256, err);
      throw err;
    }
  }

  /**
   * Drops the previous key: after it, only the active key signs and nothing backs it up.
   * First obtains a token with the active key alone, since the previous key may be what
   * still gets tokens (the fallback hides a refused active key); `force` skips that check.
   * Throws `conflict` when there is no previous key, and the check's error when it fails.
   */
  async retire(tenant: string, credential: string, options: { force?: boolean; actor?: AuditActor } = {}): Promise<Retired> {
    const who = options.actor ?? auditActor.cli();
    let sha256: string | null = null;
    try {
      const c = await this.load(tenant, credential);
      const f = c.fields as FlaFields;
      const previous = f.previous;
      if (!previous) {
        throw new SesameError('conflict', `${c.tenant}/${c.credential} has no previous key to retire: only the active key${f.next ? ' and a next key' : ''} remain`, { details: { tenant: c.tenant, credential: c.credential } });
      }
      const retired = keyView(previous);
      sha256 = retired.certificate_sha256;
      const check = options.force ? undefined : await this.check(c, { ...f, next: undefined, previous: undefined }, this.context(c), 'active');
      const again = (await this.load(tenant, credential)).fields as FlaFields;
      if (again.private_key !== f.private_key || again.previous?.private_key !== previous.private_key) {
        throw new SesameError('conflict', `the keys of ${c.tenant}/${c.credential} changed meanwhile: nothing was changed, run it again`, { details: { tenant: c.tenant, credential: c.credential } });
      }
      const summary = await this.deps.credentials.set({ tenant: c.tenant, credential: c.credential, merge: true, fields: { previous: undefined } });
      this.record(who, c.tenant, c.credential, 'retired', sha256);
      this.deps.log.info('previous fla key retired', { tenant: c.tenant, credential: c.credential, sha256, forced: options.force === true });
      return { ...summary, retired, active: keyView(f), ...(check ? { check } : {}), steps: removeSteps(retired, f.client_id) };
    } catch (err) {
      this.record(who, tenant, credential, 'retired', sha256, err);
      throw err;
    }
  }

  /** A token with these fields alone (no fallback: they hold no other key), or the refusal as an error saying nothing was changed. */
  private async check(c: Credential, fields: FlaFields, ctx: PlatformContext, which: 'next' | 'active'): Promise<Extract<ProbeResult, { status: 'ok' }>> {
    const tenant = await this.deps.tenants.get(c.tenant);
    const ids = { ...(tenant.siren ? { siren: tenant.siren } : {}), ...(tenant.siret ? { siret: tenant.siret } : {}), ...(tenant.bce ? { bce: tenant.bce } : {}) };
    const result = await probeCredential(c.platform, fields, { ...ctx, http: this.deps.http, retry: this.deps.retry, tenantIds: ids }, this.deps.log);
    if (result.status === 'ok') return result;
    if (result.status === 'not_testable') throw new SesameError('internal', 'an fla credential could not be checked');
    const details = {
      tenant: c.tenant,
      credential: c.credential,
      checked_at: result.checked_at,
      ...(result.upstream_status !== undefined ? { upstream_status: result.upstream_status } : {}),
      ...(result.upstream_error !== undefined ? { upstream_error: result.upstream_error } : {}),
    };
    const why = [result.upstream_status, result.upstream_error].filter((v) => v !== undefined).join(' ');
    const f = c.fields as FlaFields;
    const sha = (which === 'next' ? f.next && keyView(f.next) : keyView(f))?.certificate_sha256;
    const certificate = sha ? `certificate sha256 ${sha.slice(0, 16)}…` : 'certificate';
    const account = f.client_id ? ` (Client ID ${f.client_id})` : '';
    if (result.code === 'upstream_unavailable') {
      throw new SesameError('upstream_unavailable', `the token endpoint did not answer the check of the ${which} key of ${c.tenant}/${c.credential}${why ? ` (${why})` : ''}: nothing was changed, try again later`, { details, retryAfter: 60 });
    }
    const fix =
      which === 'next'
        ? `add its ${certificate} to the Chaman account${account}, then run \`sesame fla activate ${c.tenant} ${c.credential}\` again`
        : `the previous key may be what still obtains tokens; register the active key's ${certificate} on the Chaman account${account}, or retire with --force`;
    throw new SesameError('upstream_rejected', `the token endpoint refused the ${which} key of ${c.tenant}/${c.credential}${why ? ` (${why})` : ''}: nothing was changed; ${fix}`, { details });
  }

  private async load(tenant: string, credential: string): Promise<Credential> {
    parseTenantId(tenant);
    const { kind } = parseCredentialId(credential, KINDS);
    if (kind !== 'fla') throw new SesameError('invalid_request', `${credential} is not an fla credential: only FLA keys rotate this way`, { details: { field: 'credential' } });
    return this.deps.credentials.get(tenant, credential);
  }

  private context(c: Credential): PlatformContext {
    return { tenant: c.tenant, credential: c.credential, environment: c.environment, clock: this.deps.clock };
  }

  private record(who: AuditActor, tenant: string, credential: string, step: 'next_stored' | 'activated' | 'retired', sha256: string | null, error?: unknown) {
    const sink = this.deps.audit;
    if (!sink) return;
    const entry = audit.rotation({ actor: who, tenant, credential, step, ...(error !== undefined ? { error } : {}) });
    sink.record(sha256 ? { ...entry, details: { ...entry.details, sha256 } } : entry);
  }
}

/** Refuses to overwrite a next key (its certificate may be on the Chaman account already) unless asked to. */
function guardNext(c: Credential, f: FlaFields, replace: boolean | undefined) {
  if (!f.next || replace) return;
  const v = keyView(f.next);
  throw new SesameError(
    'conflict',
    `${c.tenant}/${c.credential} already has a next key (certificate ${v.certificate_sha256 ? `sha256 ${v.certificate_sha256.slice(0, 16)}…` : ''}, made ${v.created_at ?? 'earlier'}): nothing was changed. Activate it with \`sesame fla activate\`, or add --replace to replace it`,
    { details: { tenant: c.tenant, credential: c.credential } },
  );
}

/** The public facts of one key: its type, algorithm and certificate. */
export function keyView(k: { private_key: string; certificate?: string | undefined; certificate_sha256?: string | undefined; alg?: AssertionAlg | undefined; created_at?: string | undefined; replaced_at?: string | undefined }): KeyView {
  const key = loadPrivateKey(k.private_key);
  const leaf = k.certificate ? parseCertificates(k.certificate)[0] : undefined;
  const curve = key?.asymmetricKeyDetails?.namedCurve;
  return {
    key: key?.asymmetricKeyType === 'rsa' ? `RSA ${key.asymmetricKeyDetails?.modulusLength}` : curve === 'secp384r1' ? 'EC P-384' : curve === 'secp521r1' ? 'EC P-521' : String(key?.asymmetricKeyType),
    alg: (key && algorithmFor(key, k.alg)) ?? k.alg ?? 'RS256',
    certificate_sha256: leaf?.sha256 ?? k.certificate_sha256 ?? null,
    not_after: leaf ? leaf.notAfter.toISOString() : null,
    ...(k.created_at ? { created_at: k.created_at } : {}),
    ...(k.replaced_at ? { replaced_at: k.replaced_at } : {}),
  };
}

function removeSteps(retired: KeyView, clientId: string | undefined): Steps {
  const account = clientId ? ` (Client ID ${clientId})` : '';
  const which = retired.certificate_sha256 ? ` (SHA-256 ${retired.certificate_sha256})` : '';
  return {
    fr: [`Dans Chaman, ouvrir le compte webservice REST${account} et supprimer l’ancien certificat${which} : Sesame ne s’en sert plus.`],
    en: [`In Chaman, open the REST web-service account${account} and delete the old certificate${which}: Sesame no longer uses it.`],
  };
}

/**
 * A key pair and a self-signed certificate Chaman accepts, named after the tenant (its
 * BCE number as organizationIdentifier), checked against the very rules the intake
 * applies. Shared by `sesame fla keygen` and the next key of a rotation.
 */
export async function flaKeyPair(tenant: Tenant, spec: KeySpec, now: Date, days: number): Promise<{ privateKeyPem: string; pem: string; der: Uint8Array; sha256: string; not_after: string }> {
  // Loaded by the first key made: the other rotation steps and the functions that build a rotation need neither.
  const [{ selfSignedCertificate }, { validateCertificate }] = await Promise.all([import('./certificates/self-signed.ts'), import('./certificates/validator.ts')]);
  const cert = await selfSignedCertificate(spec, { CN: tenant.name, O: tenant.name, ...(tenant.bce ? { organizationIdentifier: `NTRBE-${tenant.bce}` } : {}), C: 'BE' }, { from: new Date(now.getTime() - 300_000), days });
  const privateKeyPem = cert.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const report = validateCertificate(cert.der, certificateProfile('fla'), { at: now, privateKeyPem });
  const leaf = report.certificates[0];
  if (!report.valid || !leaf) throw new SesameError('internal', `the generated certificate failed the fla profile: ${report.errors.map((e) => e.code).join(', ')}`);
  return { privateKeyPem, pem: cert.pem, der: cert.der, sha256: leaf.sha256, not_after: leaf.not_after };
}
