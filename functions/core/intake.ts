import { actor, audit, type AuditActor, type AuditEntry, type AuditSink } from './audit.ts';
import { toPem } from './bytes.ts';
import { certificateProfile } from './certificates/profiles.ts';
import type { TrustAnchors } from './certificates/profile.ts';
import type { CertificateReport } from './certificates/validator.ts';
import { credentialSecretName, NO_EXPIRY, TAG, type Credentials } from './credentials.ts';
import { isSesameError } from './errors.ts';
import { CREDENTIAL_ID_PATTERN, ID_PATTERN } from './ids.ts';
import type { Clock, Log, Notification, Notifier, ObjectStore, SecretStore, Tags } from './ports.ts';
import type { Text } from './text.ts';

/**
 * Certificate intake: an operator drops a file at `incoming/{tenant}/{credential}/{file}`
 * (or uploads it from the console, which hands the bytes over directly); it is checked
 * against the platform's rules and ends in `accepted/` (the credential gets a new
 * version) or `rejected/` (nothing changes), with its report in `reports/`. Private key
 * material is deleted at once. Processing one object twice changes nothing. Both ways
 * go through `judgeCertificate`: the same checks, destinations and notifications.
 *
 * The verdict is also kept on the credential, as tags (CERTIFICATE_TAG), and the last
 * report at `reports/_latest/{tenant}/{credential}.json` (no tenant id starts with "_"),
 * so that the console reads neither a listing nor a report to say "refused".
 */
export interface IntakeDeps {
  objects: ObjectStore;
  notifier: Notifier;
  credentials: Credentials;
  /** Where the verdict tags are written; without it, none are. */
  store?: SecretStore;
  clock: Clock;
  log: Log;
  /** Chorus Pro RGS* policy OIDs; empty: unchecked, with a warning. */
  policyAllowList?: readonly string[];
  testPolicyOids?: readonly string[];
  /**
   * Trusted CAs for the profiles that check their chain against anchors (Chorus Pro's RGS*
   * CAs); a deployed function reads its bundle at the first certificate it judges.
   */
  trustAnchors?: TrustAnchors | (() => Promise<TrustAnchors | undefined>);
  /** The verdicts of the intake bucket's files are recorded here (console and link uploads, by their callers). */
  audit?: AuditSink;
}

/** The audit record of a verdict: its codes and fingerprint, never the file's contents. */
export function verdictEntry(who: AuditActor, source: 's3' | 'console' | 'link' | 'cli', r: { tenant?: string | undefined; credential?: string | undefined; outcome: string; report?: CertificateReport | undefined }): AuditEntry | undefined {
  const { outcome, report } = r;
  if (!r.tenant || !r.credential || (outcome !== 'accepted' && outcome !== 'unchanged' && outcome !== 'rejected' && outcome !== 'deleted')) return undefined;
  return audit.certificateVerdict({
    actor: who,
    tenant: r.tenant,
    credential: r.credential,
    verdict: outcome,
    source,
    ...(report?.errors.length ? { errors: report.errors.map((e) => e.code) } : {}),
    ...(report?.warnings.length ? { warnings: report.warnings.map((w) => w.code) } : {}),
    ...(report?.certificates[0]?.sha256 ? { sha256: report.certificates[0].sha256 } : {}),
  });
}

export type IntakeOutcome = 'accepted' | 'unchanged' | 'rejected' | 'deleted' | 'gone';

export interface IntakeResult {
  /** The object processed (for a console upload: the key the file would have had in incoming/). */
  key: string;
  outcome: IntakeOutcome;
  tenant?: string;
  credential?: string;
  file?: string;
  reportKey?: string;
  report?: CertificateReport;
  reason?: Text;
  processedAt?: string;
}

/** The verdict on a credential's last certificate upload, as tags of the credential. */
export const CERTIFICATE_TAG = {
  /** accepted | unchanged | rejected | deleted */
  verdict: 'sesame:certificate-verdict',
  at: 'sesame:certificate-at',
  /** The credential's `sesame:expires-at` when the verdict was given: a later version with another end date makes a refusal old news. */
  for: 'sesame:certificate-for',
} as const;

/** The last report of a credential's uploads: a copy, read without listing reports/. */
export const latestReportKey = (tenant: string, credential: string) => `reports/_latest/${tenant}/${credential}.json`;

/** How a console upload's file may be named: one path segment the object stores accept. */
export const FILE_NAME_PATTERN = /^(?!\.{1,2}$)[^/\\\u0000-\u001f\u007f]{1,200}$/;

const KEY = /^incoming\/([^/]+)\/([^/]+)\/([^/]+)$/;
const t = (fr: string, en: string): Text => ({ fr, en });

export function parseIncomingKey(key: string): { tenant: string; credential: string; file: string } | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  const [, tenant = '', credential = '', file = ''] = m;
  if (!ID_PATTERN.test(tenant) || !CREDENTIAL_ID_PATTERN.test(credential) || file === '.' || file === '..') return undefined;
  return { tenant, credential, file };
}

type Channel = 'intake' | 'console';

function refusalNotification(tenant: string, credential: string, kind: string, file: string, outcome: IntakeOutcome, reasons: Text[], via: Channel = 'intake'): Notification {
  const deleted = outcome === 'deleted';
  const subject = `[Sesame] Certificate refused for ${tenant}/${credential}`.slice(0, 100);
  const list = (lang: 'fr' | 'en') => reasons.map((r) => `- ${r[lang]}`).join('\n');
  const message = [
    `Le fichier « ${file} » déposé pour ${tenant} / ${credential} (${kind}) a été refusé${deleted ? ' et supprimé' : ''}.`,
    'Raisons :',
    list('fr'),
    deleted
      ? 'Que faire : ce fichier contenait une clé privée. Considérer cette clé comme exposée, en générer une nouvelle, et ne déposer que le certificat (partie publique).'
      : `Que faire : corriger le fichier puis le déposer à nouveau ${via === 'console' ? 'depuis la console (page de l’identifiant)' : `dans incoming/${tenant}/${credential}/`}. L’identifiant en place n’a pas été modifié.`,
    '',
    `The file "${file}" uploaded for ${tenant} / ${credential} (${kind}) was refused${deleted ? ' and deleted' : ''}.`,
    'Reasons:',
    list('en'),
    deleted
      ? 'What to do: this file held a private key. Treat that key as exposed, generate a new one, and upload the certificate only (the public part).'
      : `What to do: fix the file and upload it again ${via === 'console' ? 'from the console (the credential\'s page)' : `to incoming/${tenant}/${credential}/`}. The credential in place was not changed.`,
  ].join('\n');
  return { subject, message, attributes: { tenant, kind, severity: deleted ? 'critical' : 'warning' } };
}


/** Where the bytes come from: an object of the intake bucket (or folder), or a console upload. */
type Source = { type: 'object'; key: string; version: string | undefined; size: number } | { type: 'bytes'; bytes: Uint8Array };

/**
 * `version`: the object version the event announced, when the store keeps versions;
 * without it, the current one.
 */
/** The certificate parser's module, once loaded (an import() per certificate would resolve it again each time). */
let validator: Promise<typeof import('./certificates/validator.ts')> | undefined;

export async function processUpload(deps: IntakeDeps, key: string, version?: string): Promise<IntakeResult> {
  const head = await deps.objects.head(key, version);
  // Already moved away: S3 delivers events at least once, the second delivery finds nothing.
  if (!head) return { key, outcome: 'gone' };
  const source: Source = { type: 'object', key, version: head.version, size: head.size };

  const target = parseIncomingKey(key);
  if (!target) {
    const reason = t(`Emplacement inattendu « ${key} » : déposer les fichiers dans incoming/{tenant}/{credential}/{fichier}.`, `Unexpected location "${key}": upload files to incoming/{tenant}/{credential}/{file}.`);
    const rejected = `rejected/_misplaced/${key.replace(/^incoming\//, '')}`;
    await deps.objects.move(key, rejected, source.version);
    deps.log.warn('upload refused: misplaced', { key: key.slice(0, 300) });
    return { key, outcome: 'rejected', reason };
  }
  const result = await judgeCertificate(deps, target, source, 'intake');
  const entry = verdictEntry(actor.system('intake'), 's3', result);
  if (entry) deps.audit?.record(entry);
  return result;
}

/**
 * A certificate uploaded from the console: the same checks, destinations, report and
 * notifications as a file dropped in incoming/, without passing through incoming/ (where
 * the bucket's own intake would process it a second time). Private key material is never
 * written anywhere.
 */
export async function processCertificate(deps: IntakeDeps, input: { tenant: string; credential: string; file: string; bytes: Uint8Array }): Promise<IntakeResult> {
  return judgeCertificate(deps, { tenant: input.tenant, credential: input.credential, file: input.file }, { type: 'bytes', bytes: input.bytes }, 'console');
}

/** The one implementation of the certificate rules, for both ways in. */
async function judgeCertificate(deps: IntakeDeps, target: { tenant: string; credential: string; file: string }, source: Source, via: Channel): Promise<IntakeResult> {
  const { tenant, credential, file } = target;
  const key = source.type === 'object' ? source.key : `incoming/${tenant}/${credential}/${file}`;
  const reportKey = `reports/${tenant}/${credential}/${file}.json`;
  const base = { key, tenant, credential, file, reportKey };
  const at = deps.clock.now();
  const processedAt = at.toISOString();
  /** Whether the certificate rules read the bytes (and so would have found a private key in them). */
  let judged = false;
  /**
   * The file to its destination: moved (an object) or written (console bytes); private keys go nowhere.
   * Console bytes the rules never read (too large, or for a credential that takes no certificate) are
   * written nowhere either: unread, they may hold a private key.
   */
  const dispose = async (destination: 'accepted' | 'rejected' | 'purge') => {
    if (source.type === 'object') {
      if (destination === 'purge') await deps.objects.purge(source.key);
      else await deps.objects.move(source.key, `${destination}/${tenant}/${credential}/${file}`, source.version);
    } else if (destination !== 'purge' && judged) {
      await deps.objects.put(`${destination}/${tenant}/${credential}/${file}`, source.bytes, 'application/octet-stream');
    }
  };

  let current;
  try {
    current = await deps.credentials.findForUpdate(tenant, credential);
  } catch (err) {
    if (!isSesameError(err, 'unknown_tenant') && !isSesameError(err, 'invalid_request')) throw err;
    current = undefined;
  }
  const profileName = current?.platform.certificateProfile?.(current.fields as never);
  if (!current || !profileName) {
    const reason = !current
      ? t(`Aucun identifiant « ${credential} » pour « ${tenant} » : le créer d’abord (sesame credential set).`, `No credential "${credential}" for "${tenant}": create it first (sesame credential set).`)
      : t(`Les identifiants ${current.kind} n’utilisent pas de certificat.`, `${current.kind} credentials take no certificate.`);
    await dispose('rejected');
    await deps.objects.put(reportKey, encodeJson({ tenant, credential, key, file, outcome: 'rejected', reason, processed_at: processedAt }), 'application/json');
    deps.log.warn('upload refused: no such credential', { tenant, credential });
    return { ...base, outcome: 'rejected', reason, processedAt };
  }

  // The parser is loaded by the first certificate judged: most of what a function does needs none.
  const { MAX_CERTIFICATE_BYTES, oversizedReport, validateCertificateChain } = await (validator ??= import('./certificates/validator.ts'));
  const trustAnchors = typeof deps.trustAnchors === 'function' ? await deps.trustAnchors() : deps.trustAnchors;
  const profile = certificateProfile(profileName);
  const fields = current.fields as { private_key?: unknown; certificate_sha256?: unknown } | undefined;
  const options = {
    at,
    environment: current.environment,
    ...(typeof fields?.private_key === 'string' ? { privateKeyPem: fields.private_key } : {}),
    ...(deps.policyAllowList ? { policyAllowList: deps.policyAllowList } : {}),
    ...(deps.testPolicyOids ? { testPolicyOids: deps.testPolicyOids } : {}),
    ...(trustAnchors ? { trustAnchors } : {}),
  };
  let report: CertificateReport;
  let chain: Uint8Array[] = [];
  const size = source.type === 'object' ? source.size : source.bytes.length;
  if (size > MAX_CERTIFICATE_BYTES) {
    report = oversizedReport(size, profile, at);
  } else {
    let bytes: Uint8Array;
    if (source.type === 'object') {
      const object = await deps.objects.get(source.key, MAX_CERTIFICATE_BYTES + 1, source.version);
      if (!object) return { key, outcome: 'gone' };
      bytes = object.bytes;
    } else {
      bytes = source.bytes;
    }
    ({ report, chain } = validateCertificateChain(bytes, profile, options));
    judged = true;
  }
  const record = (outcome: IntakeOutcome) => ({ tenant, credential, kind: current.kind, key, file, outcome, processed_at: processedAt, ...report });
  const keep = async (outcome: IntakeOutcome, expiresAt: string | undefined) => {
    await deps.objects.put(reportKey, encodeJson(record(outcome)), 'application/json');
    await deps.objects.put(latestReportKey(tenant, credential), encodeJson({ ...record(outcome), report_key: reportKey }), 'application/json');
    await tagVerdict(deps, tenant, credential, { [CERTIFICATE_TAG.verdict]: outcome, [CERTIFICATE_TAG.at]: processedAt }, expiresAt);
  };

  if (!report.valid) {
    const outcome: IntakeOutcome = report.errors.some((e) => e.code === 'private_key') ? 'deleted' : 'rejected';
    // Private key material: every version goes, so that no copy of the key stays readable.
    await dispose(outcome === 'deleted' ? 'purge' : 'rejected');
    await keep(outcome, undefined);
    await deps.notifier.publish(refusalNotification(tenant, credential, current.kind, file, outcome, report.errors.map((e) => e.message), via));
    deps.log.info('upload refused', { tenant, credential, kind: current.kind, outcome, via, errors: report.errors.map((e) => e.code) });
    return { ...base, outcome, report, processedAt };
  }

  // The secret first, the move last: a crash in between is redone by the next delivery,
  // and a certificate already stored is not written again.
  const leaf = report.certificates[0];
  let outcome: IntakeOutcome = 'unchanged';
  let expiresAt: string | undefined;
  if (leaf && fields?.certificate_sha256 !== leaf.sha256 && current.platform.acceptCertificate) {
    const pem = chain.map((der) => toPem('CERTIFICATE', der)).join('');
    const next = current.platform.acceptCertificate(current.fields as never, { pem, sha256: leaf.sha256, notAfter: leaf.not_after });
    const stored = await deps.credentials.set({ tenant, credential, kind: current.kind, environment: current.environment, fields: next });
    expiresAt = stored.expires_at ?? NO_EXPIRY;
    outcome = 'accepted';
  }
  await keep(outcome, expiresAt);
  await dispose('accepted');
  deps.log.info('upload accepted', { tenant, credential, kind: current.kind, outcome, via, sha256: leaf?.sha256, not_after: leaf?.not_after });
  return { ...base, outcome, report, processedAt };
}

/**
 * The verdict as tags of the credential, with the end date it was given against. A
 * failure here is logged, not thrown: the file has been judged and the report written.
 */
async function tagVerdict(deps: IntakeDeps, tenant: string, credential: string, tags: Tags, expiresAt: string | undefined): Promise<void> {
  const store = deps.store;
  if (!store) return;
  const name = credentialSecretName(tenant, credential);
  try {
    const end = expiresAt ?? (await store.tags(name))?.[TAG.expiresAt] ?? NO_EXPIRY;
    await store.tag(name, { ...tags, [CERTIFICATE_TAG.for]: end });
  } catch (err) {
    deps.log.error('upload verdict not recorded on the credential', { tenant, credential, code: isSesameError(err) ? err.code : 'internal' });
  }
}

const encodeJson = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
