import { randomBytes } from 'node:crypto';
import { access, constants, link, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import type { AssertionAlg } from '../functions/core/assertion.ts';
import { certificateProfile } from '../functions/core/certificates/profiles.ts';
import { selfSignedCertificate, type KeySpec } from '../functions/core/certificates/self-signed.ts';
import { validateCertificate } from '../functions/core/certificates/validator.ts';
import { SesameError } from '../functions/core/errors.ts';
import { CHAMAN_STEPS } from '../functions/core/platforms/fla.ts';
import { credentialKind, FLA_REPLACE_CONSEQUENCE, guardReplacement, materialReplaced, UsageError } from './cert-commands.ts';
import { describeFileError, out } from './output.ts';

/**
 * Where the certificate will go, checked before anything is generated or stored: the
 * directory exists and is writable, and the file does not exist (unless --force) and
 * is not a directory. A failure is a usage error (exit 2).
 */
export async function checkOutputFile(file: string, force: boolean | undefined): Promise<void> {
  const dir = dirname(resolve(file));
  let d;
  try {
    d = await stat(dir);
  } catch (err) {
    throw new UsageError(`cannot write ${file}: the directory ${dir} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be used (${describeFileError(err) ?? 'error'})`}`, 'file');
  }
  if (!d.isDirectory()) throw new UsageError(`cannot write ${file}: ${dir} is not a directory`, 'file');
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new UsageError(`cannot write ${file}: the directory ${dir} is not writable`, 'file');
  }
  let f;
  try {
    f = await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UsageError(`cannot write ${describeFileError(err, file) ?? file}`, 'file');
  }
  if (f.isDirectory()) throw new UsageError(`cannot write ${file}: it is a directory; give a file name, e.g. --out ${join(file, 'chaman.cer')}`, 'file');
  if (!force) throw new UsageError(`${file} already exists: --force overwrites it, or choose another name with --out`, 'file');
}

/** Writes the bytes under a temporary name in the target's directory (so that the final rename cannot cross devices). */
async function writeTemporary(file: string, bytes: Uint8Array): Promise<string> {
  const temp = join(dirname(resolve(file)), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new UsageError(`cannot write ${file}: ${describeFileError(err, temp) ?? (err as Error).message}`, 'file');
  }
  return temp;
}

/** Moves the temporary file into place: never over an existing file without --force. */
async function moveIntoPlace(temp: string, file: string, force: boolean | undefined): Promise<void> {
  if (force) {
    await rename(temp, file);
    return;
  }
  await link(temp, file); // EEXIST if a file appeared meanwhile
  await unlink(temp).catch(() => undefined);
}

/** `sesame fla keygen`: a key pair kept only in the store, and the .cer to register in Chaman. */
export function addFlaCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  const fla = program.command('fla').description('Belgian Federal Learning Account helpers');
  fla
    .command('keygen <tenant> <credential>')
    .description('generate a key pair and a self-signed certificate accepted by Chaman; the private key goes to the secret store only')
    .addOption(new Option('--alg <alg>', 'assertion algorithm, which picks the key type').choices(['RS256', 'PS256', 'ES384', 'ES512']).default('RS256'))
    .addOption(new Option('--bits <bits>', 'RSA key size').choices(['2048', '3072', '4096']))
    .option('--out <file>', 'where to write the certificate (DER .cer), default <tenant>-<credential>.cer; its directory must exist')
    .option('--force', 'overwrite the --out file if it exists')
    .addOption(new Option('--quality <quality>', 'Chaman capacity, for a new credential').choices(['employer', 'provider', 'training-provider']))
    .addOption(new Option('--env <environment>', 'for a new credential').choices(['production', 'acceptance']))
    .option('--days <days>', 'certificate lifetime in days', (v) => Number.parseInt(v, 10), 1095)
    .option('--replace', 'replace an existing private key (token requests fail until the new certificate is registered in Chaman)')
    .addHelpText(
      'after',
      `
The output file is checked first (its directory exists, the file does not unless
--force); the certificate is written under a temporary name, the key stored, then the
file renamed: a failure leaves neither a stored key without its file nor the reverse.

Examples:
  sesame fla keygen cfa-bxl fla-employer --quality employer --out cfa-bxl.cer
  sesame fla keygen cfa-bxl fla-employer --alg ES384 --env acceptance --quality provider
  sesame fla keygen cfa-bxl fla-employer --replace --out renewed.cer`,
    )
    .action(async (tenant: string, credential: string, o: { alg: AssertionAlg; bits?: string; out?: string; force?: boolean; quality?: string; env?: string; days: number; replace?: boolean }, cmd: Command) => {
      if (credentialKind(credential) !== 'fla') throw new UsageError(`${credential} is not an fla credential id (fla or fla-<suffix>)`);
      if (o.bits && o.alg.startsWith('ES')) throw new UsageError(`--bits is for RSA keys; ${o.alg} uses ${o.alg === 'ES384' ? 'P-384' : 'P-521'}`);
      if (!Number.isInteger(o.days) || o.days < 1 || o.days > 3650) throw new UsageError('--days must be from 1 to 3650');
      const file = o.out ?? `${tenant}-${credential}.cer`;
      // Every output is checked before anything is generated or stored.
      await checkOutputFile(file, o.force);
      const s = await system(cmd);
      const t = await s.tenants.get(tenant);
      const current = await s.credentials.findForUpdate(tenant, credential);
      const fields = (current?.fields ?? {}) as Record<string, unknown>;
      guardReplacement(tenant, credential, materialReplaced(fields), o.replace, FLA_REPLACE_CONSEQUENCE);
      const quality = o.quality ?? (fields.quality as string | undefined);
      if (!quality) throw new UsageError('--quality is required for a new credential (employer, provider or training-provider)');

      const spec: KeySpec = o.alg === 'ES384' ? { type: 'ec', curve: 'P-384' } : o.alg === 'ES512' ? { type: 'ec', curve: 'P-521' } : { type: 'rsa', bits: Number(o.bits ?? 3072) as 2048 | 3072 | 4096 };
      const now = s.clock.now();
      const cert = await selfSignedCertificate(spec, { CN: t.name, O: t.name, ...(t.bce ? { organizationIdentifier: `NTRBE-${t.bce}` } : {}), C: 'BE' }, { from: new Date(now.getTime() - 300_000), days: o.days });
      const privatePem = cert.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      // The certificate must pass the very rules the intake applies.
      const report = validateCertificate(cert.der, certificateProfile('fla'), { at: now, privateKeyPem: privatePem });
      if (!report.valid) throw new SesameError('internal', `the generated certificate failed the fla profile: ${report.errors.map((e) => e.code).join(', ')}`);
      const leaf = report.certificates[0];

      // The file first, under a temporary name; then the key; then the file's real name.
      const temp = await writeTemporary(file, cert.der);
      let summary;
      try {
        summary = await s.credentials.set({
          tenant,
          credential,
          kind: 'fla',
          ...(o.env ? { environment: o.env } : current ? { environment: current.environment } : {}),
          fields: { ...fields, private_key: privatePem, certificate: cert.pem, certificate_sha256: leaf?.sha256, quality, alg: o.alg },
        });
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      try {
        await moveIntoPlace(temp, file, o.force);
      } catch (err) {
        // The key is stored and its certificate is on disk, only under the temporary name.
        throw new SesameError('internal', `the key is stored, but the certificate could not be renamed to ${file} (${describeFileError(err, file) ?? 'error'}): it is in ${temp}; register that file in Chaman`);
      }
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify({ ...summary, certificate_file: file, sha256: leaf?.sha256, not_after: leaf?.not_after, steps: CHAMAN_STEPS }));
        return;
      }
      out(`Key pair generated (${o.alg}, ${spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`}); the private key is in the secret store only.`);
      out(`Certificate written to ${file} (valid until ${leaf?.not_after.slice(0, 10)}, sha256 ${leaf?.sha256}).`);
      out(['', 'À faire dans Chaman :', ...CHAMAN_STEPS.fr.map((l, i) => `  ${i + 1}. ${l}`), '', 'Next, in Chaman:', ...CHAMAN_STEPS.en.map((l, i) => `  ${i + 1}. ${l}`)].join('\n'));
    });
}
