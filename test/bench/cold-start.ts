import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunction } from '../../lib/function.ts';

/**
 * Module initialisation of each function, as Lambda's runtime pays it at a cold start:
 * the asset lib/function.ts builds for `cdk synth` (bundleFunction, the very code the
 * stack runs), imported in a fresh `node` process, against a bundle that only imports
 * and constructs the AWS SDK clients that function imports (what no function can do
 * without). Inside the repository, so that the SDK resolves from node_modules as it
 * resolves from the runtime's copy in Lambda.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'node_modules', '.cache', `sesame-cold-start-${process.pid}`);

export const FUNCTIONS = ['token', 'authorizer', 'certificate', 'expiry', 'admin', 'connect'] as const;
const CLIENTS: Record<string, string> = {
  'secrets-manager': 'SecretsManagerClient',
  dynamodb: 'DynamoDBClient',
  kms: 'KMSClient',
  s3: 'S3Client',
  sns: 'SNSClient',
};

/** What the stack gives the functions, with made-up values where a deployment resolves them; nothing is called at start. */
const ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  AWS_REGION: 'eu-west-3',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_LAMBDA_FUNCTION_NAME: 'Sesame-bench',
  SESAME_VERSION: 'bench',
  POWERTOOLS_SERVICE_NAME: 'sesame-bench',
  POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
  SESAME_STATE_TABLE: 'Sesame-StateTable',
  SESAME_TOKEN_CACHE_KEY: 'arn:aws:kms:eu-west-3:111122223333:key/00000000-0000-0000-0000-000000000000',
  SESAME_BUCKET: 'sesame-intake',
  SESAME_ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-3:111122223333:sesame-alerts',
  SESAME_KMS_KEY_ID: 'arn:aws:kms:eu-west-3:111122223333:key/00000000-0000-0000-0000-000000000001',
  SESAME_SECRET_PRINCIPALS: 'arn:aws:iam::111122223333:role/bench',
  SESAME_PUBLIC_URL: 'https://sesame.example',
  SESAME_CONFIG: '/dev/null',
};

/** Times `await import()` of one file in a fresh process: node's own start is not in the figure. */
const PROBE = `const t = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t));`;
const initMs = (file: string) => Number(execFileSync(process.execPath, ['--input-type=module', '-e', PROBE, file], { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] }).toString());

export interface ColdStart {
  name: string;
  clients: string[];
  /** Bytes of index.mjs (loaded at start) and of every file of the asset (chunks loaded on demand). */
  startBytes: number;
  assetBytes: number;
  fn: number[];
  base: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** `runs` fresh processes per side, interleaved (function, baseline, baseline, function, …). */
export function coldStarts(runs = 12): { hello: number[]; results: ColdStart[] } {
  mkdirSync(OUT, { recursive: true });
  try {
    const hello = join(OUT, 'hello');
    mkdirSync(hello, { recursive: true });
    writeFileSync(join(hello, 'src.mjs'), 'export const handler = async () => ({ statusCode: 200 });\n');
    bundleFunction(join(hello, 'src.mjs'), join(hello, 'asset'));
    const helloMs = Array.from({ length: runs }, () => initMs(join(hello, 'asset', 'index.mjs')));
    const results: ColdStart[] = [];
    for (const name of FUNCTIONS) {
      const asset = join(OUT, name);
      bundleFunction(join(ROOT, 'functions', name, 'handler.ts'), asset);
      const index = join(asset, 'index.mjs');
      const files = (readdirSync(asset, { recursive: true }) as string[]).filter((f) => f.endsWith('.mjs'));
      const clients = [...new Set([...readFileSync(index, 'utf8').matchAll(/from\s*["']@aws-sdk\/client-([a-z0-9-]+)["']/g)].map((m) => m[1] as string))].sort();
      const unknown = clients.filter((c) => !CLIENTS[c]);
      if (unknown.length > 0) throw new Error(`${name} imports SDK clients the bench does not know: ${unknown.join(', ')}`);
      const base = join(OUT, `${name}-baseline`);
      mkdirSync(base, { recursive: true });
      writeFileSync(join(base, 'src.mjs'), `${clients.map((c) => `import { ${CLIENTS[c]} } from '@aws-sdk/client-${c}';\nnew ${CLIENTS[c]}({});`).join('\n')}\nexport const handler = async () => ({ statusCode: 200 });\n`);
      bundleFunction(join(base, 'src.mjs'), join(base, 'asset'));
      const baseIndex = join(base, 'asset', 'index.mjs');
      const fn: number[] = [];
      const baseline: number[] = [];
      for (let i = 0; i < runs; i++) {
        if (i % 2 === 0) {
          fn.push(initMs(index));
          baseline.push(initMs(baseIndex));
        } else {
          baseline.push(initMs(baseIndex));
          fn.push(initMs(index));
        }
      }
      results.push({ name, clients, startBytes: statSync(index).size, assetBytes: files.reduce((n, f) => n + statSync(join(asset, f)).size, 0), fn, base: baseline });
    }
    return { hello: helloMs, results };
  } finally {
    rmSync(OUT, { recursive: true, force: true });
  }
}

export const medianOf = median;
