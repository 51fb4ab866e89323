import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { LocalObjectStore } from '../functions/adapters/local-object-store.ts';
import { S3ObjectStore } from '../functions/adapters/s3-object-store.ts';
import type { System } from '../functions/adapters/system.ts';
import { PROFILE_NAMES } from '../functions/core/certificates/profile.ts';
import { certificateProfile } from '../functions/core/certificates/profiles.ts';
import { MAX_CERTIFICATE_BYTES, oversizedReport, validateCertificate, type CertificateReport } from '../functions/core/certificates/validator.ts';
import { readConfig, requireEnv } from '../functions/core/config.ts';
import { SesameError } from '../functions/core/errors.ts';
import type { IntakeResult } from '../functions/core/intake.ts';

/** `sesame cert …`: check a file against a profile, or upload it for a credential. */

/** A usage error: exit code 2, as commander's own. */
export class UsageError extends Error {}

/** The file's bytes, or only its size when it is over the validator's limit. */
export async function readCertificateFile(path: string): Promise<{ size: number; bytes?: Uint8Array }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const { size } = await fh.stat();
    if (size > MAX_CERTIFICATE_BYTES) return { size };
    const buffer = Buffer.alloc(size);
    await fh.read(buffer, 0, size, 0);
    return { size, bytes: new Uint8Array(buffer) };
  } finally {
    await fh.close();
  }
}

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

const out = (text: string) => process.stdout.write(`${text}\n`);

/** S3: upload, then wait for the certificate function's report. */
async function uploadToAws(key: string, bytes: Uint8Array, timeoutMs = 120_000): Promise<IntakeResult> {
  const objects = new S3ObjectStore(requireEnv(process.env, 'SESAME_BUCKET'));
  const [, tenant, credential, file] = key.split('/');
  const reportKey = `reports/${tenant}/${credential}/${file}.json`;
  const before = await objects.get(reportKey, 1_000_000);
  await objects.put(key, bytes, 'application/octet-stream');
  process.stderr.write(`uploaded s3://…/${key}; waiting for the verdict…\n`);
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

export function addCertCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  const json = (cmd: Command) => Boolean(cmd.optsWithGlobals().json);
  const cert = program.command('cert').description('certificates: check against a platform profile, upload for a credential');
  cert
    .command('check <file>')
    .description('check a certificate file (PEM, DER, PKCS#7) against a profile; exit 0 valid, 1 refused, 2 usage error')
    .addOption(new Option('--profile <profile>', 'the platform rules').choices([...PROFILE_NAMES]).makeOptionMandatory())
    .option('--at <date>', 'validation date (ISO 8601), default now')
    .addOption(new Option('--env <environment>', 'the credential environment (sandbox accepts test certificates)').choices(['production', 'acceptance', 'sandbox']))
    .action(async (file: string, o: { profile: string; at?: string; env?: string }, cmd: Command) => {
      const at = parseAt(o.at) ?? new Date();
      const profile = certificateProfile(o.profile);
      const { size, bytes } = await readCertificateFile(file);
      const report = bytes ? validateCertificate(bytes, profile, { at, ...(o.env ? { environment: o.env } : {}) }) : oversizedReport(size, profile, at);
      out(json(cmd) ? JSON.stringify(report) : formatReport(report, file));
      if (!report.valid) process.exitCode = 1;
    });
  cert
    .command('upload <tenant> <credential> <file>')
    .description('upload a certificate for a credential and wait for the verdict (local uploads folder, or S3 with --aws)')
    .action(async (tenant: string, credential: string, file: string, _o, cmd: Command) => {
      const { size, bytes } = await readCertificateFile(file);
      if (!bytes) throw new SesameError('invalid_request', `${file} is ${size} bytes: certificates are limited to ${MAX_CERTIFICATE_BYTES} bytes`);
      const key = `incoming/${tenant}/${credential}/${basename(file)}`;
      let result: IntakeResult;
      if (cmd.optsWithGlobals().aws) {
        result = await uploadToAws(key, bytes);
      } else {
        // The same intake as the dev watcher, run here so that the verdict is immediate.
        const s = await system(cmd);
        await new LocalObjectStore(readConfig().home).put(key, bytes);
        result = await (s.intake as NonNullable<System['intake']>)(key);
      }
      if (json(cmd)) out(JSON.stringify(result));
      else if (result.report) out(`${result.outcome.toUpperCase()}: ${formatReport(result.report, file)}`);
      else out(`${result.outcome.toUpperCase()}: ${result.reason?.fr ?? ''}\n  ${result.reason?.en ?? ''}`);
      if (!['accepted', 'unchanged'].includes(result.outcome)) process.exitCode = 1;
    });
}
