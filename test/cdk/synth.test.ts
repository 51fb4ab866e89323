import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issue } from '../helpers/pki.ts';

const root = join(import.meta.dirname, '..', '..');

function synth(out: string, configFile: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--output', out], { cwd: root, env: { ...process.env, SESAME_CONFIG: configFile, CDK_DISABLE_VERSION_CHECK: '1' } }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    ),
  );
}

/** `npm run synth`, offline: the CDK CLI, the app, esbuild bundling of the four functions. */
describe('cdk synth', () => {
  it('produces the template and the seven bundles offline, the trust anchor bundle shipped with the functions that check certificates, the console page with its function', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sesame-synth-'));
    try {
      const ca = await issue({ subject: 'CN=AC RGS Test, O=Sesame, C=FR', ca: true });
      const anchors = join(out, 'anchors.pem');
      await writeFile(anchors, ca.pem);
      const config = join(out, 'sesame.config.json');
      await writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(join(root, 'sesame.config.example.json'), 'utf8')), chorusTrustAnchors: anchors }));
      const r = await synth(join(out, 'cdk.out'), config);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const template = JSON.parse(await readFile(join(out, 'cdk.out', 'Sesame.template.json'), 'utf8'));
      const resources = Object.entries(template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
      expect(resources.filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret')).toHaveLength(8);
      const bundles = (await readdir(join(out, 'cdk.out'))).filter((d) => d.startsWith('asset.'));
      const withCode = [];
      for (const b of bundles) if ((await readdir(join(out, 'cdk.out', b))).includes('index.mjs')) withCode.push(b);
      expect(withCode).toHaveLength(7);
      const [, intake] = resources.find(([id, r]) => id.startsWith('CertificateIntakeFunction') && r.Type === 'AWS::Lambda::Function') ?? [];
      const env = (intake?.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(env.SESAME_CHORUS_TRUST_ANCHORS).toBe('/var/task/chorus-trust-anchors.pem');
      const asset = `asset.${String((intake?.Properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '')}`;
      expect(await readFile(join(out, 'cdk.out', asset, 'chorus-trust-anchors.pem'), 'utf8')).toBe(ca.pem);
      const assetOf = (prefix: string) => {
        const [, fn] = resources.find(([id, r]) => id.startsWith(prefix) && r.Type === 'AWS::Lambda::Function') ?? [];
        return join(out, 'cdk.out', `asset.${String((fn?.Properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '')}`);
      };
      // Console uploads run the same checks as the intake: the same bundle of trust anchors.
      expect(await readFile(join(assetOf('ConsoleAdmin'), 'chorus-trust-anchors.pem'), 'utf8')).toBe(ca.pem);
      // And so do Chorus EDI certificates handed over through a connect link.
      expect(await readFile(join(assetOf('ConnectFunction'), 'chorus-trust-anchors.pem'), 'utf8')).toBe(ca.pem);
      // The page, built at synth, travels with the console function.
      expect(await readdir(join(assetOf('ConsolePage'), 'console'))).toContain('index.html');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('stops, naming the field, when the trust anchor bundle is not a bundle of CA certificates', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sesame-synth-'));
    try {
      const leaf = await issue({ subject: 'CN=not a CA, C=FR' });
      const anchors = join(out, 'anchors.pem');
      await writeFile(anchors, leaf.pem);
      const config = join(out, 'sesame.config.json');
      await writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(join(root, 'sesame.config.example.json'), 'utf8')), chorusTrustAnchors: anchors }));
      const r = await synth(join(out, 'cdk.out'), config);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/field "chorusTrustAnchors".*not a CA certificate/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
