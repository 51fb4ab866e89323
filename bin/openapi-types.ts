import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../functions/core/openapi.ts';

/**
 * `npm run openapi:types`: the typed client of the API, generated from the OpenAPI
 * document by the local openapi-typescript, into the console's sources. A test
 * regenerates it and fails when the committed file differs, so the document, the
 * console and the code cannot drift apart.
 */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const API_TYPES = join(ROOT, 'functions', 'console', 'web', 'generated', 'api.ts');

/** No tool run here may reach the network. */
export const OFFLINE_ENV = {
  ...process.env,
  REDOCLY_TELEMETRY: 'off',
  REDOCLY_SDK_TELEMETRY: 'off',
  REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
  REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
  DO_NOT_TRACK: '1',
  NO_UPDATE_NOTIFIER: '1',
  CI: 'true',
};

/** The document as the API serves it; the version is fixed so that the output does not follow package.json. */
export function writeDocument(dir: string): string {
  const file = join(dir, 'openapi.json');
  writeFileSync(file, `${JSON.stringify(openApiDocument('0.0.0'), null, 2)}\n`);
  return file;
}

export function generateApiTypes(outFile: string = API_TYPES): void {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-openapi-'));
  try {
    const doc = writeDocument(dir);
    execFileSync(join(ROOT, 'node_modules', '.bin', 'openapi-typescript'), [doc, '--output', outFile], { cwd: dir, env: OFFLINE_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  generateApiTypes();
  process.stdout.write(`wrote ${API_TYPES}\n`);
}
