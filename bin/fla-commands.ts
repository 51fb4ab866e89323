import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import type { AssertionAlg } from '../functions/core/assertion.ts';
import { certificateProfile } from '../functions/core/certificates/profiles.ts';
import { selfSignedCertificate, type KeySpec } from '../functions/core/certificates/self-signed.ts';
import { validateCertificate } from '../functions/core/certificates/validator.ts';
import { SesameError } from '../functions/core/errors.ts';
import { parseCredentialId } from '../functions/core/ids.ts';
import { CHAMAN_STEPS } from '../functions/core/platforms/fla.ts';
import { KINDS } from '../functions/core/platforms/index.ts';
import { UsageError } from './cert-commands.ts';
import { out } from './output.ts';


/** `sesame fla keygen`: a key pair kept only in the store, and the .cer to register in Chaman. */
export function addFlaCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  const fla = program.command('fla').description('Belgian Federal Learning Account helpers');
  fla
    .command('keygen <tenant> <credential>')
    .description('generate a key pair and a self-signed certificate accepted by Chaman; the private key goes to the secret store only')
    .addOption(new Option('--alg <alg>', 'assertion algorithm, which picks the key type').choices(['RS256', 'PS256', 'ES384', 'ES512']).default('RS256'))
    .addOption(new Option('--bits <bits>', 'RSA key size').choices(['2048', '3072', '4096']))
    .option('--out <file>', 'where to write the certificate (DER .cer)')
    .addOption(new Option('--quality <quality>', 'Chaman capacity, for a new credential').choices(['employer', 'provider', 'training-provider']))
    .addOption(new Option('--env <environment>', 'for a new credential').choices(['production', 'acceptance']))
    .option('--days <days>', 'certificate lifetime in days', (v) => Number.parseInt(v, 10), 1095)
    .option('--replace', 'replace an existing private key (token requests fail until the new certificate is registered in Chaman)')
    .action(async (tenant: string, credential: string, o: { alg: AssertionAlg; bits?: string; out?: string; quality?: string; env?: string; days: number; replace?: boolean }, cmd: Command) => {
      if (parseCredentialId(credential, KINDS).kind !== 'fla') throw new UsageError(`${credential} is not an fla credential id (fla or fla-<suffix>)`);
      if (o.bits && o.alg.startsWith('ES')) throw new UsageError(`--bits is for RSA keys; ${o.alg} uses ${o.alg === 'ES384' ? 'P-384' : 'P-521'}`);
      if (!Number.isInteger(o.days) || o.days < 1 || o.days > 3650) throw new UsageError('--days must be from 1 to 3650');
      const s = await system(cmd);
      const t = await s.tenants.get(tenant);
      const current = await s.credentials.findForUpdate(tenant, credential);
      const fields = (current?.fields ?? {}) as Record<string, unknown>;
      if (fields.private_key && !o.replace) {
        throw new SesameError('conflict', `${tenant}/${credential} already has a private key: --replace makes a new one active at once, and token requests fail until its certificate is registered in Chaman`);
      }
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
      const summary = await s.credentials.set({
        tenant,
        credential,
        kind: 'fla',
        ...(o.env ? { environment: o.env } : current ? { environment: current.environment } : {}),
        fields: { ...fields, private_key: privatePem, certificate: cert.pem, certificate_sha256: leaf?.sha256, quality, alg: o.alg },
      });
      const file = o.out ?? `${tenant}-${credential}.cer`;
      await writeFile(file, cert.der, { mode: 0o644 });
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify({ ...summary, certificate_file: file, sha256: leaf?.sha256, not_after: leaf?.not_after, steps: CHAMAN_STEPS }));
        return;
      }
      out(`Key pair generated (${o.alg}, ${spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`}); the private key is in the secret store only.`);
      out(`Certificate written to ${file} (valid until ${leaf?.not_after.slice(0, 10)}, sha256 ${leaf?.sha256}).`);
      out(['', 'À faire dans Chaman :', ...CHAMAN_STEPS.fr.map((l, i) => `  ${i + 1}. ${l}`), '', 'Next, in Chaman:', ...CHAMAN_STEPS.en.map((l, i) => `  ${i + 1}. ${l}`)].join('\n'));
    });
}
