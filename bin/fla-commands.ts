import { randomBytes } from 'node:crypto';
import { access, constants, link, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import type { AssertionAlg } from '../functions/core/assertion.ts';
import { FetchHttpClient } from '../functions/adapters/fetch-http-client.ts';
import { actor } from '../functions/core/audit.ts';
import type { KeySpec } from '../functions/core/certificates/self-signed.ts';
import { SesameError } from '../functions/core/errors.ts';
import { CHAMAN_STEPS } from '../functions/core/platforms/fla.ts';
import { flaKeyPair, FlaRotation, type KeyView } from '../functions/core/rotation.ts';
import type { Steps } from '../functions/core/text.ts';
import { credentialKind, FLA_REPLACE_CONSEQUENCE, guardReplacement, materialReplaced, UsageError } from './cert-commands.ts';
import { describeFileError, out, table } from './output.ts';

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

/** The rotation's core over the CLI's system: checks go to the platform over the network, records to the audit trail. */
const rotation = (s: System): FlaRotation => s.rotation;

/** The audit records of a command are written before the process ends. */
async function flushAudit(s: System) {
  await s.audit?.flush({ timeoutMs: 5_000 });
}

const describeKey = (k: KeyView) => `${k.key}, ${k.alg}${k.certificate_sha256 ? `, certificate sha256 ${k.certificate_sha256.slice(0, 16)}…` : ''}${k.not_after ? `, valid until ${k.not_after.slice(0, 10)}` : ''}`;
const numbered = (title: string, lines: readonly string[]) => [title, ...lines.map((l, i) => `  ${i + 1}. ${l}`)];
const printSteps = (steps: Steps, fr: string, en: string) => out(['', ...numbered(fr, steps.fr), '', ...numbered(en, steps.en)].join('\n'));

/** `sesame fla keygen --next`: the next key pair beside the active one, and the .cer to add to the same Chaman account. */
async function keygenNext(s: System, tenant: string, credential: string, o: { alg?: AssertionAlg; bits?: string; out?: string; force?: boolean; days: number; replace?: boolean }, file: string, json: boolean) {
  const r = rotation(s);
  const generated = await r.generateNext(tenant, credential, {
    ...(o.alg ? { alg: o.alg } : {}),
    ...(o.bits ? { bits: Number(o.bits) as 2048 | 3072 | 4096 } : {}),
    days: o.days,
    ...(o.replace ? { replace: true } : {}),
  });
  // As for keygen: the file under a temporary name, then the key, then the file's real name.
  const temp = await writeTemporary(file, generated.certificate_der);
  let stored;
  try {
    stored = await r.storeNext(generated, { ...(o.replace ? { replace: true } : {}), actor: actor.cli() });
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  } finally {
    await flushAudit(s);
  }
  try {
    await moveIntoPlace(temp, file, o.force);
  } catch (err) {
    throw new SesameError('internal', `the next key is stored, but its certificate could not be renamed to ${file} (${describeFileError(err, file) ?? 'error'}): it is in ${temp}; add that file to the Chaman account`);
  }
  const { next_certificate_pem: _pem, ...summary } = stored;
  if (json) {
    out(JSON.stringify({ ...summary, certificate_file: file }));
    return;
  }
  out(`Next key pair generated (${describeKey(stored.next)}) beside the active one (${describeKey(stored.active)}); the private key is in the secret store only.`);
  out(`The active key keeps signing until \`sesame fla activate ${tenant} ${credential}\`. Certificate written to ${file}.`);
  printSteps(stored.steps, 'À faire dans Chaman (ajouter le certificat au même compte) :', 'Next, in Chaman (add the certificate to the same account):');
}

/** `sesame fla keygen`: a key pair kept only in the store, and the .cer to register in Chaman. */
export function addFlaCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  const fla = program.command('fla').description('Belgian Federal Learning Account helpers');
  fla
    .command('keygen <tenant> <credential>')
    .description('generate a key pair and a self-signed certificate accepted by Chaman; the private key goes to the secret store only')
    .option('--next', 'a rotation without downtime: store the key pair as the next key, beside the active one, until `sesame fla activate`')
    .addOption(new Option('--alg <alg>', 'assertion algorithm, which picks the key type (default RS256; with --next, the active key\'s)').choices(['RS256', 'PS256', 'ES384', 'ES512']))
    .addOption(new Option('--bits <bits>', 'RSA key size').choices(['2048', '3072', '4096']))
    .option('--out <file>', 'where to write the certificate (DER .cer), default <tenant>-<credential>.cer (with --next, <tenant>-<credential>-next.cer); its directory must exist')
    .option('--force', 'overwrite the --out file if it exists')
    .addOption(new Option('--quality <quality>', 'Chaman capacity, for a new credential').choices(['employer', 'provider', 'training-provider']))
    .addOption(new Option('--env <environment>', 'for a new credential').choices(['production', 'acceptance']))
    .option('--days <days>', 'certificate lifetime in days', (v) => Number.parseInt(v, 10), 1095)
    .option('--replace', 'replace an existing private key (token requests fail until the new certificate is registered in Chaman); with --next, an existing next key')
    .addHelpText(
      'after',
      `
The output file is checked first (its directory exists, the file does not unless
--force); the certificate is written under a temporary name, the key stored, then the
file renamed: a failure leaves neither a stored key without its file nor the reverse.

With --next, the active key keeps signing: add the new certificate to the same Chaman
account (both stay valid together), then \`sesame fla activate\` switches once a token is
obtained with the new key, and \`sesame fla retire\` drops the old one.

Examples:
  sesame fla keygen cfa-bxl fla-employer --quality employer --out cfa-bxl.cer
  sesame fla keygen cfa-bxl fla-employer --alg ES384 --env acceptance --quality provider
  sesame fla keygen cfa-bxl fla-employer --next --out cfa-bxl-2027.cer
  sesame fla keygen cfa-bxl fla-employer --replace --out renewed.cer`,
    )
    .action(async (tenant: string, credential: string, opts: { next?: boolean; alg?: AssertionAlg; bits?: string; out?: string; force?: boolean; quality?: string; env?: string; days: number; replace?: boolean }, cmd: Command) => {
      if (credentialKind(credential) !== 'fla') throw new UsageError(`${credential} is not an fla credential id (fla or fla-<suffix>)`);
      if (opts.bits && opts.alg?.startsWith('ES')) throw new UsageError(`--bits is for RSA keys; ${opts.alg} uses ${opts.alg === 'ES384' ? 'P-384' : 'P-521'}`);
      if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 3650) throw new UsageError('--days must be from 1 to 3650');
      if (opts.next && (opts.quality || opts.env)) throw new UsageError('--quality and --env are for a new credential; a next key joins an existing one');
      const file = opts.out ?? `${tenant}-${credential}${opts.next ? '-next' : ''}.cer`;
      // Every output is checked before anything is generated or stored.
      await checkOutputFile(file, opts.force);
      const s = await system(cmd);
      if (opts.next) {
        await keygenNext(s, tenant, credential, opts, file, Boolean(cmd.optsWithGlobals().json));
        return;
      }
      const o = { ...opts, alg: opts.alg ?? 'RS256' };
      const t = await s.tenants.get(tenant);
      const current = await s.credentials.findForUpdate(tenant, credential);
      const fields = (current?.fields ?? {}) as Record<string, unknown>;
      guardReplacement(tenant, credential, materialReplaced(fields), o.replace, FLA_REPLACE_CONSEQUENCE);
      const quality = o.quality ?? (fields.quality as string | undefined);
      if (!quality) throw new UsageError('--quality is required for a new credential (employer, provider or training-provider)');

      const spec: KeySpec = o.alg === 'ES384' ? { type: 'ec', curve: 'P-384' } : o.alg === 'ES512' ? { type: 'ec', curve: 'P-521' } : { type: 'rsa', bits: Number(o.bits ?? 3072) as 2048 | 3072 | 4096 };
      const made = await flaKeyPair(t, spec, s.clock.now(), o.days);
      const cert = { der: made.der, pem: made.pem };
      const privatePem = made.privateKeyPem;
      const leaf = { sha256: made.sha256, not_after: made.not_after };
      // A replaced key ends any rotation in progress: its next and previous keys go with it.
      const { next: dropNext, previous: dropPrevious, ...kept } = fields;
      const dropped = [dropNext ? 'next' : '', dropPrevious ? 'previous' : ''].filter(Boolean);

      // The file first, under a temporary name; then the key; then the file's real name.
      const temp = await writeTemporary(file, cert.der);
      let summary;
      try {
        summary = await s.credentials.set({
          tenant,
          credential,
          kind: 'fla',
          ...(o.env ? { environment: o.env } : current ? { environment: current.environment } : {}),
          fields: { ...kept, private_key: privatePem, certificate: cert.pem, certificate_sha256: leaf.sha256, quality, alg: o.alg },
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
        out(JSON.stringify({ ...summary, certificate_file: file, sha256: leaf.sha256, not_after: leaf.not_after, steps: CHAMAN_STEPS, ...(dropped.length > 0 ? { dropped_keys: dropped } : {}) }));
        return;
      }
      out(`Key pair generated (${o.alg}, ${spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`}); the private key is in the secret store only.`);
      if (dropped.length > 0) out(`The ${dropped.join(' and ')} key${dropped.length > 1 ? 's' : ''} of the rotation in progress ${dropped.length > 1 ? 'were' : 'was'} dropped with the replaced key.`);
      out(`Certificate written to ${file} (valid until ${leaf.not_after.slice(0, 10)}, sha256 ${leaf.sha256}).`);
      out(['', 'À faire dans Chaman :', ...CHAMAN_STEPS.fr.map((l, i) => `  ${i + 1}. ${l}`), '', 'Next, in Chaman:', ...CHAMAN_STEPS.en.map((l, i) => `  ${i + 1}. ${l}`)].join('\n'));
    });

  fla
    .command('activate <tenant> <credential>')
    .description('switch to the next key: only once a token is obtained with it (not cached, not served); the active key becomes the previous one, still a fallback')
    .addHelpText(
      'after',
      `
Nothing changes when the token endpoint refuses the next key (its certificate is not on
the Chaman account yet) or does not answer: exit status 1, and the reason.

Example:
  sesame fla activate cfa-bxl fla-employer`,
    )
    .action(async (tenant: string, credential: string, _o, cmd: Command) => {
      if (credentialKind(credential) !== 'fla') throw new UsageError(`${credential} is not an fla credential id (fla or fla-<suffix>)`);
      const s = await system(cmd);
      let done;
      try {
        done = await rotation(s).activate(tenant, credential, { actor: actor.cli() });
      } finally {
        await flushAudit(s);
      }
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify(done));
        return;
      }
      out(`Activated ${tenant}/${credential}: a token was obtained with the next key at ${done.check.checked_at}.`);
      out(`Active key: ${describeKey(done.active)}.`);
      out(`Previous key, the fallback until \`sesame fla retire ${tenant} ${credential}\`: ${describeKey(done.previous)}.`);
      if (done.dropped) out(`The previous key of an earlier rotation was dropped (${describeKey(done.dropped)}).`);
    });

  fla
    .command('retire <tenant> <credential>')
    .description('drop the previous key, once a token is obtained with the active key alone; then only the active key signs')
    .option('--force', 'retire without checking the active key first')
    .action(async (tenant: string, credential: string, o: { force?: boolean }, cmd: Command) => {
      if (credentialKind(credential) !== 'fla') throw new UsageError(`${credential} is not an fla credential id (fla or fla-<suffix>)`);
      const s = await system(cmd);
      let done;
      try {
        done = await rotation(s).retire(tenant, credential, { ...(o.force ? { force: true } : {}), actor: actor.cli() });
      } finally {
        await flushAudit(s);
      }
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify(done));
        return;
      }
      out(`Retired the previous key of ${tenant}/${credential} (${describeKey(done.retired)}); only the active key signs now (${describeKey(done.active)}).`);
      printSteps(done.steps, 'À faire dans Chaman :', 'Next, in Chaman:');
    });

  fla
    .command('keys <tenant> <credential>')
    .description('the keys of an FLA credential: active, next (waiting for activation), previous (the fallback until retired); no key material')
    .action(async (tenant: string, credential: string, _o, cmd: Command) => {
      if (credentialKind(credential) !== 'fla') throw new UsageError(`${credential} is not an fla credential id (fla or fla-<suffix>)`);
      const s = await system(cmd);
      const { next_certificate_pem: _pem, ...state } = await rotation(s).status(tenant, credential);
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify(state));
        return;
      }
      const row = (role: string, k: KeyView | null) => ({ role, key: k?.key, alg: k?.alg, sha256: k?.certificate_sha256?.slice(0, 16), not_after: k?.not_after?.slice(0, 10), since: k?.replaced_at?.slice(0, 10) ?? k?.created_at?.slice(0, 10) });
      out(table([row('active', state.active), ...(state.next ? [row('next', state.next)] : []), ...(state.previous ? [row('previous', state.previous)] : [])], ['role', 'key', 'alg', 'sha256', 'not_after', 'since']));
    });
}
