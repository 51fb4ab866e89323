import { createPrivateKey } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { LocalObjectStore } from '../functions/adapters/local-object-store.ts';
import type { System } from '../functions/adapters/system.ts';
import { MAX_CERTIFICATE_BYTES, PROFILE_NAMES } from '../functions/core/certificates/profile.ts';
import { certificateProfile } from '../functions/core/certificates/profiles.ts';
import type { CertificateReport } from '../functions/core/certificates/validator.ts';
import { toPem } from '../functions/core/bytes.ts';
import { parseCredentialId } from '../functions/core/ids.ts';
import { KINDS, platformOf } from '../functions/core/platforms/index.ts';
import { readConfig } from '../functions/core/config.ts';
import { SesameError } from '../functions/core/errors.ts';
import type { IntakeResult } from '../functions/core/intake.ts';
import { parseCertificates } from '../functions/core/x509.ts';
import { describeFileError, out, requireFile, UsageError } from './output.ts';

/**
 * The certificate parser (pkijs, asn1js) and the validator, loaded by the commands that
 * read a certificate: every other command starts without them.
 */
const pki = async () => {
  const [validator, anchors] = await Promise.all([import('../functions/core/certificates/validator.ts'), import('../functions/core/trust-anchors.ts')]);
  return { ...validator, ...anchors };
};

/** `sesame cert …`: check a file against a profile, or upload it for a credential. */

export { UsageError } from './output.ts';

/** The file's bytes, or only its size when it is over the validator's limit. */
export async function readCertificateFile(path: string): Promise<{ size: number; bytes?: Uint8Array }> {
  await requireFile(path);
  let fh;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    if (size > MAX_CERTIFICATE_BYTES) return { size };
    const buffer = Buffer.alloc(size);
    await fh.read(buffer, 0, size, 0);
    return { size, bytes: new Uint8Array(buffer) };
  } catch (err) {
    const words = describeFileError(err, path);
    if (words) throw new UsageError(`cannot read file ${words}`, 'file');
    throw err;
  } finally {
    await fh?.close();
  }
}

/** The kind a credential id names (`fla-employer` → fla); a malformed id is a usage error. */
export function credentialKind(id: string): string {
  try {
    return parseCredentialId(id, KINDS).kind;
  } catch (err) {
    if (err instanceof SesameError) throw new UsageError(err.message);
    throw err;
  }
}

function sameKey(a: string, b: unknown): boolean {
  if (typeof b !== 'string') return false;
  if (a === b) return true;
  try {
    const der = (pem: string) => createPrivateKey({ key: pem, format: 'pem' }).export({ type: 'pkcs8', format: 'der' });
    return der(a).equals(der(b));
  } catch {
    return false;
  }
}

function sameCertificates(a: string, b: unknown): boolean {
  if (typeof b !== 'string') return false;
  if (a === b) return true;
  try {
    return parseCertificates(a).map((c) => c.sha256).join() === parseCertificates(b).map((c) => c.sha256).join();
  } catch {
    return false;
  }
}

function describeCertificate(pem: string): string {
  try {
    const leaf = parseCertificates(pem)[0];
    if (leaf) return ` (sha256 ${leaf.sha256.slice(0, 16)}…, valid until ${leaf.notAfter.toISOString().slice(0, 10)})`;
  } catch {
    // Described without its details.
  }
  return '';
}

/**
 * The key and certificate that storing `next` over `current` would replace or remove, in
 * words (public facts only: the client id, the certificate's fingerprint and end date).
 * `next` undefined: everything stored would be replaced.
 */
export function materialReplaced(current: Record<string, unknown> | undefined, next?: Record<string, unknown>): string[] {
  if (!current) return [];
  const what: string[] = [];
  if (typeof current.private_key === 'string' && !(next && sameKey(current.private_key, next.private_key))) {
    what.push(`a private key${typeof current.client_id === 'string' ? ` (registered in Chaman as client id ${current.client_id})` : ''}`);
  }
  if (typeof current.certificate === 'string' && !(next && sameCertificates(current.certificate, next.certificate))) {
    what.push(`a certificate${describeCertificate(current.certificate)}`);
  }
  return what;
}

/** Refuses (conflict, exit 1) to replace a stored key or certificate unless --replace was given. */
export function guardReplacement(tenant: string, credential: string, what: string[], replace: boolean | undefined, consequence = ''): void {
  if (what.length === 0 || replace) return;
  throw new SesameError('conflict', `${tenant}/${credential} already has ${what.join(' and ')}: nothing was changed. Add --replace to replace ${what.length > 1 ? 'them' : 'it'}${consequence}`, {
    details: { tenant, credential },
  });
}

/** What replacing an FLA key means for token requests. */
export const FLA_REPLACE_CONSEQUENCE = ' (the new key is used at once: token requests fail until its certificate is registered in Chaman)';

export function parseAt(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--at must be an ISO 8601 date, got "${value}"`);
  return d;
}

/** The readable summary of a report, French then English for each finding. */
export function formatReport(report: CertificateReport, label: string): string {
  const lines = [`${report.valid ? 'VALID' : 'REFUSED'} (${report.profile}, at ${report.validated_at}): ${label}`];
  for (const e of report.errors) lines.push(`  ✗ ${e.code}: ${e.message.fr}`, `    ${e.message.en}`);
  for (const w of report.warnings) lines.push(`  ! ${w.code}: ${w.message.fr}`, `    ${w.message.en}`);
  report.certificates.forEach((c, i) => {
    const key = c.key.size ? `${c.key.type.toUpperCase()} ${c.key.size}` : c.key.curve ? `${c.key.type.toUpperCase()} ${c.key.curve}` : c.key.type;
    lines.push(`  ${i + 1}. ${c.subject}`, `     issuer ${c.issuer}`, `     ${key}, ${c.signature_algorithm}; valid ${c.not_before.slice(0, 10)} → ${c.not_after.slice(0, 10)}; sha256 ${c.sha256}`);
  });
  return lines.join('\n');
}


/** S3: upload, then wait for the certificate function's report. */
async function uploadToAws(bucket: string, key: string, bytes: Uint8Array, timeoutMs = 120_000): Promise<IntakeResult> {
  const { S3ObjectStore } = await import('../functions/adapters/s3-object-store.ts');
  const objects = new S3ObjectStore(bucket);
  const [, tenant, credential, file] = key.split('/');
  const reportKey = `reports/${tenant}/${credential}/${file}.json`;
  const before = await objects.get(reportKey, 1_000_000);
  await objects.put(key, bytes, 'application/octet-stream');
  process.stderr.write(`uploaded s3://${bucket}/${key}; waiting for the verdict…\n`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2_000));
    const found = await objects.get(reportKey, 1_000_000);
    if (found && (!before || Buffer.compare(Buffer.from(found.bytes), Buffer.from(before.bytes)) !== 0)) {
      const report = JSON.parse(Buffer.from(found.bytes).toString('utf8')) as CertificateReport & { outcome: IntakeResult['outcome'] };
      return { key, outcome: report.outcome, tenant, credential, reportKey, report };
    }
  }
  throw new SesameError('upstream_unavailable', `no verdict after ${timeoutMs / 1000} s: check the certificate function's logs`);
}

/**
 * What the intake would refuse without looking at the file, refused here at once: an
 * unknown tenant or credential, or a kind that takes no certificate (in AWS, the wait
 * for a verdict would otherwise run out for nothing).
 */
async function checkTarget(s: System, tenant: string, credential: string): Promise<void> {
  const current = await s.credentials.findForUpdate(tenant, credential);
  if (!current) throw new SesameError('unknown_credential', `tenant "${tenant}" has no credential "${credential}": create it first (sesame credential set)`);
  if (!current.platform.certificateProfile?.(current.fields as never)) throw new SesameError('invalid_request', `${current.kind} credentials take no certificate`);
}

export function addCertCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  const json = (cmd: Command) => Boolean(cmd.optsWithGlobals().json);
  const cert = program.command('cert').description('certificates: check against a platform profile, upload for a credential');
  cert
    .command('check <file>')
    .description('check a certificate file (PEM, DER, PKCS#7) against a profile; exit 0 valid, 1 refused, 2 usage error')
    .addOption(new Option('--profile <profile>', 'the platform rules').choices([...PROFILE_NAMES]).makeOptionMandatory())
    .option('--at <date>', 'validation time (ISO 8601), default now')
    .option('--anchors <file>', 'trusted CA certificates (PEM bundle) the chain must end at; default $SESAME_CHORUS_TRUST_ANCHORS')
    .option('--policy <oid>', 'a certificate policy the path must keep (repeatable); default $SESAME_CHORUS_POLICY_OIDS for the chorus profiles, none for chain', (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--env <environment>', 'the credential environment (sandbox accepts test certificates)').choices(['production', 'acceptance', 'sandbox']))
    .addHelpText(
      'after',
      `
Examples:
  sesame cert check chaman.cer --profile fla
  sesame cert check edi-chain.p7b --profile chorus-client --anchors rgs-cas.pem --json
  sesame cert check chain.pem --profile chain --at 2027-01-01`,
    )
    .action(async (file: string, o: { profile: string; at?: string; env?: string; anchors?: string; policy?: string[] }, cmd: Command) => {
      const at = parseAt(o.at) ?? new Date();
      const profile = certificateProfile(o.profile);
      const config = readConfig();
      const { oversizedReport, trustAnchorsFrom, validateCertificate } = await pki();
      if (o.anchors) await requireFile(o.anchors, '--anchors file');
      const { size, bytes } = await readCertificateFile(file);
      const trustAnchors = o.anchors ? trustAnchorsFrom(o.anchors, '--anchors') : trustAnchorsFrom(config.trustAnchorsFile);
      const bad = o.policy?.find((p) => !/^\d+(\.\d+)+$/.test(p));
      if (bad) throw new UsageError(`--policy must be a dotted OID, got "${bad}"`);
      const policyAllowList = o.policy ?? (profile.name === 'chain' ? [] : config.policyAllowList);
      const options = { at, ...(o.env ? { environment: o.env } : {}), ...(trustAnchors ? { trustAnchors } : {}), policyAllowList, testPolicyOids: config.testPolicyOids };
      const report = bytes ? validateCertificate(bytes, profile, options) : oversizedReport(size, profile, at);
      out(json(cmd) ? JSON.stringify(report) : formatReport(report, file));
      if (!report.valid) process.exitCode = 1;
    });
  cert
    .command('upload <tenant> <credential> <file>')
    .description('upload a certificate for a credential and wait for the verdict (local uploads folder, or S3 with --aws)')
    .addHelpText(
      'after',
      `
Examples:
  sesame cert upload cfa-paris chorus-edi edi-chain.p7b
  sesame --aws cert upload cfa-bxl fla-employer renewed.cer`,
    )
    .action(async (tenant: string, credential: string, file: string, _o, cmd: Command) => {
      const { size, bytes } = await readCertificateFile(file);
      if (!bytes) throw new SesameError('invalid_request', `${file} is ${size} bytes: certificates are limited to ${MAX_CERTIFICATE_BYTES} bytes`);
      const key = `incoming/${tenant}/${credential}/${basename(file)}`;
      const s = await system(cmd);
      await checkTarget(s, tenant, credential);
      let result: IntakeResult;
      if (cmd.optsWithGlobals().aws) {
        if (!s.bucket) throw new SesameError('invalid_request', 'no intake bucket: set SESAME_BUCKET to the stack\'s IntakeBucket output, or SESAME_STACK to the deployed stack\'s name');
        result = await uploadToAws(s.bucket, key, bytes);
      } else {
        // The same intake as the dev watcher, run here so that the verdict is immediate.
        await new LocalObjectStore(readConfig().home).put(key, bytes);
        result = await (s.intake as NonNullable<System['intake']>)(key);
      }
      if (json(cmd)) out(JSON.stringify(result));
      else if (result.report) out(`${result.outcome.toUpperCase()}: ${formatReport(result.report, file)}`);
      else out(`${result.outcome.toUpperCase()}: ${result.reason?.fr ?? ''}\n  ${result.reason?.en ?? ''}`);
      if (!['accepted', 'unchanged'].includes(result.outcome)) process.exitCode = 1;
    });
}

/** The password of a PKCS#12 file: prompted without echo on a terminal, else the first line of stdin. */
export async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          reject(new UsageError('cancelled'));
          return;
        }
        value = ch === '\u007f' ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** `sesame credential import-p12`: key and certificate from a .p12/.pfx, validated before anything is stored. */
export function addImportP12(credential: Command, system: (cmd: Command) => Promise<System>) {
  credential
    .command('import-p12 <tenant> <credential> <file>')
    .description('import a key and certificate from a PKCS#12 file (password prompted, or read from stdin); the certificate is validated first')
    .addOption(new Option('--quality <quality>', 'FLA capacity, for a new credential').choices(['employer', 'provider', 'training-provider']))
    .option('--replace', 'replace the private key and certificate the credential already has')
    .addHelpText(
      'after',
      `
Examples:
  sesame credential import-p12 cfa-bxl fla-employer cfa-bxl.p12 --quality employer
  sesame credential import-p12 cfa-bxl fla-employer renewed.p12 --replace   # over an existing key
  sesame credential import-p12 cfa-paris chorus-edi edi.pfx < password.txt`,
    )
    .action(async (tenant: string, id: string, file: string, o: { quality?: string; replace?: boolean }, cmd: Command) => {
      const kind = credentialKind(id);
      const platform = platformOf(kind);
      if (!platform.certificateProfile) throw new UsageError(`${kind} credentials take no certificate`);
      await requireFile(file, 'PKCS#12 file');
      const s = await system(cmd);
      await s.tenants.get(tenant);
      const current = await s.credentials.findForUpdate(tenant, id);
      const fields = (current?.fields ?? undefined) as Record<string, unknown> | undefined;
      const quality = o.quality ?? (fields?.quality as string | undefined);
      if (kind === 'fla' && !quality) throw new UsageError('--quality is required for a new FLA credential');
      const keepsKey = kind === 'fla';
      // Before the password: refused here, nothing is read and nothing is stored.
      guardReplacement(tenant, id, materialReplaced(fields), o.replace, keepsKey ? FLA_REPLACE_CONSEQUENCE : '');
      const [{ readPkcs12 }, { trustAnchorsFrom, validateCertificateChain }] = await Promise.all([import('../functions/local/pkcs12.ts'), pki()]);
      const { privateKeyPem, certificatesPem } = await readPkcs12(file, await readPassword(`Password for ${file}: `));
      const config = readConfig();
      const anchors = trustAnchorsFrom(config.trustAnchorsFile);
      const { report, chain } = validateCertificateChain(new TextEncoder().encode(certificatesPem), certificateProfile(platform.certificateProfile(fields as never)), {
        at: s.clock.now(),
        ...(current ? { environment: current.environment } : {}),
        ...(keepsKey ? { privateKeyPem } : {}),
        policyAllowList: config.policyAllowList,
        testPolicyOids: config.testPolicyOids,
        ...(anchors ? { trustAnchors: anchors } : {}),
      });
      if (!report.valid) {
        out(cmd.optsWithGlobals().json ? JSON.stringify(report) : formatReport(report, file));
        process.exitCode = 1;
        return;
      }
      const leaf = report.certificates[0] as { sha256: string; not_after: string };
      const pem = chain.map((der) => toPem('CERTIFICATE', der)).join('');
      // A new key ends any FLA rotation in progress: its next and previous keys are dropped with the old key.
      const { next: _n, previous: _p, ...kept } = (fields ?? {}) as Record<string, unknown>;
      const next = keepsKey
        ? { ...kept, quality, private_key: privateKeyPem, certificate: pem, certificate_sha256: leaf.sha256 }
        : platform.acceptCertificate?.(fields as never, { pem, sha256: leaf.sha256, notAfter: leaf.not_after });
      const summary = await s.credentials.set({ tenant, credential: id, kind, ...(current ? { environment: current.environment } : {}), fields: next });
      const replaced = materialReplaced(fields, next as Record<string, unknown> | undefined);
      if (cmd.optsWithGlobals().json) out(JSON.stringify({ ...summary, sha256: leaf.sha256, private_key_stored: keepsKey, replaced }));
      else {
        out(`imported ${tenant}/${id}: certificate ${leaf.sha256.slice(0, 16)}…, valid until ${leaf.not_after.slice(0, 10)}`);
        if (replaced.length > 0) out(`Replaced ${replaced.join(' and ')}.${keepsKey && replaced.some((r) => r.startsWith('a private key')) ? ' Register the new certificate in Chaman: token requests fail until then.' : ''}`);
        out(keepsKey ? 'The private key is in the secret store only.' : 'Only the certificate is stored: Sesame does not keep Chorus Pro private keys.');
      }
    });
}
