import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { vi } from 'vitest';

/**
 * The functions exactly as `cdk deploy` would upload them: `cdk synth` of the real
 * app (bin/app.ts, cdk.json's context) WITH esbuild bundling, into a folder inside the
 * repository, so that the bundles' external `@aws-sdk/*` imports resolve from the
 * repository's node_modules as they resolve from the runtime's SDK in Lambda.
 */
export const ROOT = join(import.meta.dirname, '..', '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'sesame-bundles');

export type FunctionName = 'token' | 'authorizer' | 'certificate' | 'expiry' | 'admin';

/** Logical id prefixes of the functions in the template. */
export const LOGICAL_ID_PREFIX: Record<FunctionName, string> = {
  token: 'TokenApiToken',
  authorizer: 'TokenApiAuthorizer',
  certificate: 'CertificateIntakeFunction',
  expiry: 'ExpiryWatchFunction',
  admin: 'ConsoleAdmin',
};

/** Their memory, as lib/ sets it: what the runtime tells the function. */
const MEMORY: Record<FunctionName, string> = { token: '512', authorizer: '512', certificate: '512', expiry: '512', admin: '1024' };

export interface FunctionBundle {
  logicalId: string;
  /** Absolute path of the asset's index.mjs. */
  entry: string;
  /** The template's Handler, e.g. `index.handler`. */
  handler: string;
  runtime: string;
  /** The template's Lambda environment, where a value is a plain string. */
  environment: Record<string, string>;
  /** Variables whose value is a CloudFormation expression (Ref, Fn::GetAtt…): the deployment gives them. */
  unresolved: string[];
  /** The template's environment as written, expressions included. */
  variables: Record<string, unknown>;
}

export interface Synth {
  outdir: string;
  template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  functions: Record<FunctionName, FunctionBundle>;
  /** Removes the synth output folder. */
  cleanup(): Promise<void>;
}

/** Only what the synth needs: never the emulator's endpoint or credentials, never a machine profile. */
function synthEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('CDK_') && !k.startsWith('SESAME_') && !k.startsWith('POWERTOOLS_')) env[k] = v;
  return {
    ...env,
    SESAME_CONFIG: 'sesame.config.example.json',
    CDK_DISABLE_VERSION_CHECK: '1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/**
 * `cdk synth` once, into its own folder (test files run in parallel workers), and the
 * map from each function to its bundle and environment. About 6 s.
 */
export async function synthBundles(): Promise<Synth> {
  await mkdir(CACHE, { recursive: true });
  await pruneAbandoned();
  const outdir = join(CACHE, `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  await new Promise<void>((resolve, reject) =>
    execFile(
      process.execPath,
      [join(ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--output', outdir],
      { cwd: ROOT, env: synthEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`cdk synth failed: ${err.message}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`)) : resolve()),
    ),
  );
  const template = JSON.parse(await readFile(join(outdir, 'Sesame.template.json'), 'utf8')) as Synth['template'];
  const functions = {} as Record<FunctionName, FunctionBundle>;
  for (const [name, prefix] of Object.entries(LOGICAL_ID_PREFIX) as [FunctionName, string][]) {
    const matches = Object.entries(template.Resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix) && /^[0-9A-F]{8}$/.test(id.slice(prefix.length)));
    if (matches.length !== 1) throw new Error(`expected one AWS::Lambda::Function with logical id ${prefix}XXXXXXXX, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
    const [logicalId, resource] = matches[0] as [string, { Properties?: Record<string, unknown> }];
    const props = resource.Properties ?? {};
    const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
    if (typeof s3Key !== 'string' || !s3Key.endsWith('.zip')) throw new Error(`${logicalId}: Code.S3Key is not an asset zip: ${JSON.stringify(props.Code)}`);
    const entry = join(outdir, `asset.${s3Key.slice(0, -'.zip'.length)}`, 'index.mjs');
    if (!existsSync(entry)) throw new Error(`${logicalId}: no bundle at ${entry}`);
    const variables = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const environment: Record<string, string> = {};
    const unresolved: string[] = [];
    for (const [k, v] of Object.entries(variables)) {
      if (typeof v === 'string') environment[k] = v;
      else unresolved.push(k);
    }
    functions[name] = { logicalId, entry, handler: String(props.Handler), runtime: String(props.Runtime), environment, unresolved, variables };
  }
  return { outdir, template, functions, cleanup: () => rm(outdir, { recursive: true, force: true }) };
}

/** Removes the output of runs whose process is gone (killed before their cleanup ran). */
async function pruneAbandoned(): Promise<void> {
  for (const dir of await readdir(CACHE)) {
    const pid = Number(/^(\d+)-/.exec(dir)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(CACHE, dir), { recursive: true, force: true });
    }
  }
}

let instance = 0;

/**
 * Imports a bundle as Lambda's Node runtime does (native ESM, outside vitest's transform),
 * as a fresh module instance each time: a new execution environment, whose module scope
 * reads the environment as it is now.
 */
export async function importBundle<T = Record<string, unknown>>(bundle: FunctionBundle): Promise<T> {
  instance += 1;
  const url = `${pathToFileURL(bundle.entry).href}?instance=${instance}`;
  return (await import(/* @vite-ignore */ url)) as T;
}

/** The exported function the template's Handler names (`index.handler` → `handler`). */
export function handlerOf<T>(bundle: FunctionBundle, module: Record<string, unknown>): T {
  const name = bundle.handler.split('.').pop() as string;
  const fn = module[name];
  if (typeof fn !== 'function') throw new Error(`${bundle.logicalId}: the bundle exports no function "${name}" (Handler ${bundle.handler})`);
  return fn as T;
}

// ---------------------------------------------------------------------------------------
// Running a handler as Lambda would: from source or from its bundle, with its environment.

export const SOURCES = ['source', 'bundle'] as const;
export type Source = (typeof SOURCES)[number];

/** Handler files, the Lambda entries lib/ hands to esbuild. */
const ENTRY: Record<FunctionName, string> = {
  token: join(ROOT, 'functions', 'token', 'handler.ts'),
  authorizer: join(ROOT, 'functions', 'authorizer', 'handler.ts'),
  certificate: join(ROOT, 'functions', 'certificate', 'handler.ts'),
  expiry: join(ROOT, 'functions', 'expiry', 'handler.ts'),
  admin: join(ROOT, 'functions', 'admin', 'handler.ts'),
};

/**
 * What the Lambda runtime adds to every function's environment (on-demand initialization:
 * Powertools reports the first invocation as the cold start), and no X-Ray outside Lambda.
 */
const runtimeEnv = (name: FunctionName): Record<string, string> => ({
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  AWS_LAMBDA_FUNCTION_NAME: `Sesame-${name}`,
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: MEMORY[name],
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/Sesame-${name}`,
  POWERTOOLS_TRACE_ENABLED: 'false',
});
/** Variables a previous load may have set, removed before the next one sets its own. */
const owned = new Set<string>();

function applyEnv(env: Record<string, string>): void {
  for (const k of owned) delete process.env[k];
  owned.clear();
  for (const [k, v] of Object.entries(env)) {
    // In Lambda NODE_OPTIONS applies to the runtime process; here it would change nothing.
    if (k === 'NODE_OPTIONS') continue;
    process.env[k] = v;
    owned.add(k);
  }
}

/** The environment lib/function.ts gives every function, for runs from source. */
export const sourceEnv = (name: FunctionName): Record<string, string> => ({ POWERTOOLS_SERVICE_NAME: `sesame-${name}`, POWERTOOLS_METRICS_NAMESPACE: 'Sesame' });

/**
 * A fresh execution environment of one function: its environment set (the template's for
 * a bundle, with `overrides` for what the deployment resolves), then its module imported
 * anew, so that its module scope (clients, caches, configuration) starts from scratch.
 */
export async function loadHandler<H>(name: FunctionName, from: Source, overrides: Record<string, string>, synth?: () => Promise<Synth>): Promise<{ handler: H; env: Record<string, string> }> {
  if (from === 'source') {
    const env = { ...runtimeEnv(name), ...sourceEnv(name), ...overrides };
    applyEnv(env);
    vi.resetModules();
    const mod = (await import(/* @vite-ignore */ ENTRY[name])) as { handler: H };
    return { handler: mod.handler, env };
  }
  if (!synth) throw new Error('a bundle needs the synth');
  const bundle = (await synth()).functions[name];
  const missing = bundle.unresolved.filter((k) => !(k in overrides));
  if (missing.length > 0) throw new Error(`${bundle.logicalId}: the deployment resolves ${missing.join(', ')}: pass them as overrides`);
  const env = { ...runtimeEnv(name), ...bundle.environment, ...overrides };
  applyEnv(env);
  return { handler: handlerOf<H>(bundle, await importBundle(bundle)), env };
}

/** The context object the Node runtime passes a handler. */
export function lambdaContext(name: FunctionName) {
  const functionName = `Sesame-${name}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-3:123456789012:function:${functionName}`,
    memoryLimitInMB: MEMORY[name],
    awsRequestId: `${Math.random().toString(16).slice(2, 10)}-0000-4000-8000-${Date.now().toString(16).padStart(12, '0')}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/01/01/[$LATEST]${'0'.repeat(32)}`,
    getRemainingTimeInMillis: () => 20_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Everything written to stdout and stderr while `run` runs (Powertools logs and metrics
 * go there, as in Lambda), kept out of the test output.
 */
export async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const keep = ((chunk: unknown, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = keep;
  process.stderr.write = keep;
  try {
    const result = await run();
    return { result, output: chunks.join('') };
  } catch (e) {
    (e as { output?: string }).output = chunks.join('');
    throw e;
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** Parsed JSON lines of captured output (Powertools log entries and EMF metrics). */
export const jsonLines = (output: string): Record<string, unknown>[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { unparsed: l };
      }
    });

/**
 * The real core over the emulator, as `sesame --aws` builds it: it creates secrets with
 * the deployment's KMS key and resource policy. Imported when called (after useEmulator).
 */
export async function realCore(d: { kmsKeyArn: string; bucket?: string; topicArn?: string }) {
  const { awsSystem } = await import('../../functions/adapters/aws-system.ts');
  const { readConfig } = await import('../../functions/core/config.ts');
  const { MemoryLog } = await import('../helpers/memory-log.ts');
  const { PRINCIPALS } = await import('./fixtures.ts');
  const config = { ...readConfig({}), ...(d.bucket ? { bucket: d.bucket } : {}), ...(d.topicArn ? { alertsTopicArn: d.topicArn } : {}) };
  return awsSystem(config, new MemoryLog(), { creation: async () => ({ kmsKeyId: d.kmsKeyArn, principals: PRINCIPALS }) });
}
