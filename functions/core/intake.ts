import { toPem } from './bytes.ts';
import { certificateProfile } from './certificates/profiles.ts';
import type { TrustAnchors } from './certificates/profile.ts';
import { MAX_CERTIFICATE_BYTES, oversizedReport, validateCertificateChain, type CertificateReport } from './certificates/validator.ts';
import type { Credentials } from './credentials.ts';
import { isSesameError } from './errors.ts';
import { CREDENTIAL_ID_PATTERN, ID_PATTERN } from './ids.ts';
import type { Clock, Log, Notification, Notifier, ObjectStore } from './ports.ts';
import type { Text } from './text.ts';

/**
 * Certificate intake: an operator drops a file at `incoming/{tenant}/{credential}/{file}`;
 * it is checked against the platform's rules and ends in `accepted/` (the credential
 * gets a new version) or `rejected/` (nothing changes), with its report in `reports/`.
 * Private key material is deleted at once. Processing one object twice changes nothing.
 */
export interface IntakeDeps {
  objects: ObjectStore;
  notifier: Notifier;
  credentials: Credentials;
  clock: Clock;
  log: Log;
  /** Chorus Pro RGS* policy OIDs; empty: unchecked, with a warning. */
  policyAllowList?: readonly string[];
  testPolicyOids?: readonly string[];
  /** Trusted CAs for the profiles that check their chain against anchors (Chorus Pro's RGS* CAs). */
  trustAnchors?: TrustAnchors;
}

export type IntakeOutcome = 'accepted' | 'unchanged' | 'rejected' | 'deleted' | 'gone';

export interface IntakeResult {
  key: string;
  outcome: IntakeOutcome;
  tenant?: string;
  credential?: string;
  reportKey?: string;
  report?: CertificateReport;
  reason?: Text;
}

const KEY = /^incoming\/([^/]+)\/([^/]+)\/([^/]+)$/;
const t = (fr: string, en: string): Text => ({ fr, en });

export function parseIncomingKey(key: string): { tenant: string; credential: string; file: string } | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  const [, tenant = '', credential = '', file = ''] = m;
  if (!ID_PATTERN.test(tenant) || !CREDENTIAL_ID_PATTERN.test(credential) || file === '.' || file === '..') return undefined;
  return { tenant, credential, file };
}

function refusalNotification(tenant: string, credential: string, kind: string, file: string, outcome: IntakeOutcome, reasons: Text[]): Notification {
  const deleted = outcome === 'deleted';
  const subject = `[Sesame] Certificate refused for ${tenant}/${credential}`.slice(0, 100);
  const list = (lang: 'fr' | 'en') => reasons.map((r) => `- ${r[lang]}`).join('\n');
  const message = [
    `Le fichier « ${file} » déposé pour ${tenant} / ${credential} (${kind}) a été refusé${deleted ? ' et supprimé' : ''}.`,
    'Raisons :',
    list('fr'),
    deleted
      ? 'Que faire : ce fichier contenait une clé privée. Considérer cette clé comme exposée, en générer une nouvelle, et ne déposer que le certificat (partie publique).'
      : `Que faire : corriger le fichier puis le déposer à nouveau dans incoming/${tenant}/${credential}/. L’identifiant en place n’a pas été modifié.`,
    '',
    `The file "${file}" uploaded for ${tenant} / ${credential} (${kind}) was refused${deleted ? ' and deleted' : ''}.`,
    'Reasons:',
    list('en'),
    deleted
      ? 'What to do: this file held a private key. Treat that key as exposed, generate a new one, and upload the certificate only (the public part).'
      : `What to do: fix the file and upload it again to incoming/${tenant}/${credential}/. The credential in place was not changed.`,
  ].join('\n');
  return { subject, message, attributes: { tenant, kind, severity: deleted ? 'critical' : 'warning' } };
}

/**
 * `version`: the object version the event announced, when the store keeps versions;
 * without it, the current one.
 */
export async function processUpload(deps: IntakeDeps, key: string, version?: string): Promise<IntakeResult> {
  const head = await deps.objects.head(key, version);
  // Already moved away: S3 delivers events at least once, the second delivery finds nothing.
  if (!head) return { key, outcome: 'gone' };
  const { size } = head;
  const objectVersion = head.version;

  const target = parseIncomingKey(key);
  if (!target) {
    const reason = t(`Emplacement inattendu « ${key} » : déposer les fichiers dans incoming/{tenant}/{credential}/{fichier}.`, `Unexpected location "${key}": upload files to incoming/{tenant}/{credential}/{file}.`);
    const rejected = `rejected/_misplaced/${key.replace(/^incoming\//, '')}`;
    await deps.objects.move(key, rejected, objectVersion);
    deps.log.warn('upload refused: misplaced', { key: key.slice(0, 300) });
    return { key, outcome: 'rejected', reason };
  }
  const { tenant, credential, file } = target;
  const reportKey = `reports/${tenant}/${credential}/${file}.json`;
  const base = { key, tenant, credential, reportKey };

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
    await deps.objects.move(key, `rejected/${tenant}/${credential}/${file}`, objectVersion);
    await deps.objects.put(reportKey, encodeJson({ tenant, credential, key, outcome: 'rejected', reason, processed_at: deps.clock.now().toISOString() }), 'application/json');
    deps.log.warn('upload refused: no such credential', { tenant, credential });
    return { ...base, outcome: 'rejected', reason };
  }

  const profile = certificateProfile(profileName);
  const at = deps.clock.now();
  const fields = current.fields as { private_key?: unknown; certificate_sha256?: unknown } | undefined;
  const options = {
    at,
    environment: current.environment,
    ...(typeof fields?.private_key === 'string' ? { privateKeyPem: fields.private_key } : {}),
    ...(deps.policyAllowList ? { policyAllowList: deps.policyAllowList } : {}),
    ...(deps.testPolicyOids ? { testPolicyOids: deps.testPolicyOids } : {}),
    ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}),
  };
  let report: CertificateReport;
  let chain: Uint8Array[] = [];
  if (size > MAX_CERTIFICATE_BYTES) {
    report = oversizedReport(size, profile, at);
  } else {
    const object = await deps.objects.get(key, MAX_CERTIFICATE_BYTES + 1, objectVersion);
    if (!object) return { key, outcome: 'gone' };
    ({ report, chain } = validateCertificateChain(object.bytes, profile, options));
  }
  const record = (outcome: IntakeOutcome) => encodeJson({ tenant, credential, kind: current.kind, key, outcome, processed_at: at.toISOString(), ...report });

  if (!report.valid) {
    const outcome: IntakeOutcome = report.errors.some((e) => e.code === 'private_key') ? 'deleted' : 'rejected';
    // Private key material: every version goes, so that no copy of the key stays readable.
    if (outcome === 'deleted') await deps.objects.purge(key);
    else await deps.objects.move(key, `rejected/${tenant}/${credential}/${file}`, objectVersion);
    await deps.objects.put(reportKey, record(outcome), 'application/json');
    await deps.notifier.publish(refusalNotification(tenant, credential, current.kind, file, outcome, report.errors.map((e) => e.message)));
    deps.log.info('upload refused', { tenant, credential, kind: current.kind, outcome, errors: report.errors.map((e) => e.code) });
    return { ...base, outcome, report };
  }

  // The secret first, the move last: a crash in between is redone by the next delivery,
  // and a certificate already stored is not written again.
  const leaf = report.certificates[0];
  let outcome: IntakeOutcome = 'unchanged';
  if (leaf && fields?.certificate_sha256 !== leaf.sha256 && current.platform.acceptCertificate) {
    const pem = chain.map((der) => toPem('CERTIFICATE', der)).join('');
    const next = current.platform.acceptCertificate(current.fields as never, { pem, sha256: leaf.sha256, notAfter: leaf.not_after });
    await deps.credentials.set({ tenant, credential, kind: current.kind, environment: current.environment, fields: next });
    outcome = 'accepted';
  }
  await deps.objects.put(reportKey, record(outcome), 'application/json');
  await deps.objects.move(key, `accepted/${tenant}/${credential}/${file}`, objectVersion);
  deps.log.info('upload accepted', { tenant, credential, kind: current.kind, outcome, sha256: leaf?.sha256, not_after: leaf?.not_after });
  return { ...base, outcome, report };
}

const encodeJson = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);

