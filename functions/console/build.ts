import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, buildSync, type BuildOptions, type BuildResult } from 'esbuild';

/**
 * Builds the operator console into `outDir`: index.html, app.js, app.css. One bundle,
 * minified, no source map and no comment of the sources, nothing fetched from a CDN.
 * `lib` calls it at synth and `sesame dev` at start.
 */
export const CONSOLE_FILES = ['index.html', 'app.js', 'app.css'] as const;

const WEB = resolve(import.meta.dirname, 'web');

const options: BuildOptions = {
  entryPoints: { app: join(WEB, 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome115', 'firefox115', 'safari16.4', 'edge115'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(WEB, 'tsconfig.json'),
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  define: { 'process.env.NODE_ENV': '"production"' },
  write: false,
  outdir: '/console-build',
  logLevel: 'silent',
};

function indexHtml(version: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<title>Sesame console</title>',
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="/console/app.css?v=${version}">`,
    `<script type="module" src="/console/app.js?v=${version}"></script>`,
    '</head>',
    '<body>',
    '<div id="root"></div>',
    '<noscript>The Sesame console needs JavaScript. / La console Sesame a besoin de JavaScript.</noscript>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function write(outDir: string, result: BuildResult): void {
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles ?? []) files.set(f.path.slice(f.path.lastIndexOf('/') + 1), f.contents);
  const js = files.get('app.js');
  const css = files.get('app.css');
  if (!js || !css) throw new Error(`the console build made ${[...files.keys()].join(', ') || 'nothing'}, not app.js and app.css`);
  const version = createHash('sha256').update(js).update(css).digest('hex').slice(0, 12);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'app.js'), js);
  writeFileSync(join(outDir, 'app.css'), css);
  writeFileSync(join(outDir, 'index.html'), indexHtml(version));
}

/** For CDK synth, which cannot wait for a promise. */
export function buildConsoleSync(outDir: string): string {
  write(outDir, buildSync(options));
  return outDir;
}

export async function buildConsole(outDir: string): Promise<string> {
  write(outDir, await build(options));
  return outDir;
}
