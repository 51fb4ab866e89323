import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `npm run synth`, offline: the CDK CLI, the app, esbuild bundling of the four functions. */
describe('cdk synth', () => {
  it('produces the template and the four bundles offline, from the example config', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sesame-synth-'));
    try {
      const root = join(import.meta.dirname, '..', '..');
      const code = await new Promise<number>((resolve) =>
        execFile(process.execPath, [join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--output', out], { cwd: root, env: { ...process.env, SESAME_CONFIG: 'sesame.config.example.json', CDK_DISABLE_VERSION_CHECK: '1' } }, (err) =>
          resolve(err ? ((err as { code?: number }).code ?? 1) : 0),
        ),
      );
      expect(code).toBe(0);
      const template = JSON.parse(await readFile(join(out, 'Sesame.template.json'), 'utf8'));
      expect(Object.values(template.Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::SecretsManager::Secret')).toHaveLength(8);
      const bundles = (await readdir(out)).filter((d) => d.startsWith('asset.'));
      const withCode = [];
      for (const b of bundles) if ((await readdir(join(out, b))).includes('index.mjs')) withCode.push(b);
      expect(withCode).toHaveLength(4);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
