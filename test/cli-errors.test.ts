import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';
import { validate } from '../functions/core/validate.ts';

/** --version, examples in --help, JSON errors, exit codes, file errors in words, --kind inferred, type errors. */

let home: string;
let dir: string;

const sesame = cli(() => home);

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-errors-'));
  dir = await mkdtemp(join(tmpdir(), 'sesame-cli-errors-files-'));
  await mkdir(join(dir, 'a-directory'));
  expect((await sesame(['tenant', 'add', 'acme'])).code).toBe(0);
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

describe('sesame --version and --help', () => {
  it('prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await sesame([flag])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it.each([[[]], [['tenant', 'add']], [['tenant', 'set']], [['credential', 'set']], [['credential', 'import-p12']], [['fla', 'keygen']], [['cert', 'check']]])('shows examples in the help of %j', async (args) => {
    const r = await sesame([...args, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nExamples:\n {2}sesame /);
  });
});

describe('errors and exit codes', () => {
  it.each([
    ['a refused operation', ['tenant', 'add', 'acme'], 1, 'conflict'],
    ['an unknown tenant', ['tenant', 'set', 'nobody', '--name', 'X'], 1, 'unknown_tenant'],
    ['an unknown option', ['tenant', 'list', '--nope'], 2, 'usage'],
    ['an unknown command', ['nonsense'], 2, 'usage'],
    ['a missing subcommand', ['tenant'], 2, 'usage'],
    ['a missing argument', ['tenant', 'set'], 2, 'usage'],
    ['a bad choice', ['cert', 'check', 'x', '--profile', 'nope'], 2, 'usage'],
    ['a malformed credential id', ['credential', 'set', 'acme', 'nope-x'], 2, 'usage'],
    ['a malformed tenant id', ['tenant', 'add', 'ACME'], 2, 'usage'],
    ['a missing file', ['cert', 'check', 'missing.pem', '--profile', 'fla'], 2, 'file'],
    ['a directory', ['cert', 'check', '<dir>', '--profile', 'fla'], 2, 'file'],
    ['a missing p12', ['credential', 'import-p12', 'acme', 'fla-x', 'missing.p12', '--quality', 'employer'], 2, 'file'],
    ['a directory as p12', ['credential', 'import-p12', 'acme', 'fla-x', '<dir>', '--quality', 'employer'], 2, 'file'],
    ['a directory as anchors', ['cert', 'check', '<dir>', '--profile', 'chain', '--anchors', '<dir>'], 2, 'file'],
    ['a missing upload', ['cert', 'upload', 'acme', 'chorus-edi', 'missing.p7b'], 2, 'file'],
  ])('%s: the same exit code, one line in text and one JSON object with --json', async (_label, template, exit, code) => {
    const args = template.map((a) => (a === '<dir>' ? join(dir, 'a-directory') : a));
    const text = await sesame(args);
    expect(text.code).toBe(exit);
    expect(text.stderr).toMatch(/^(sesame: |error: |Usage: )/);
    expect(text.stderr).not.toMatch(/ENOENT|EISDIR|Error:/);
    const json = await sesame([...args, '--json']);
    expect(json.code).toBe(exit);
    expect(json.stdout).toBe('');
    const lines = json.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0] as string);
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(Object.keys(parsed.error)).toEqual(['code', 'message']);
    expect(parsed.error.code).toBe(code);
    expect(parsed.error.message).not.toMatch(/ENOENT|EISDIR|^error: /);
  });

  it('says what is wrong with a file in words', async () => {
    expect((await sesame(['cert', 'check', join(dir, 'a-directory'), '--profile', 'fla'])).stderr).toBe(`sesame: cannot read file ${join(dir, 'a-directory')}: it is a directory, not a file\n`);
    expect((await sesame(['cert', 'check', join(dir, 'none.pem'), '--profile', 'fla'])).stderr).toBe(`sesame: cannot read file ${join(dir, 'none.pem')}: no such file or directory\n`);
  });
});

describe('sesame credential set', () => {
  it('infers --kind from the credential id', async () => {
    const r = await sesame(['credential', 'set', 'acme', 'opco-atlas', '--json'], '{"cfa_key":"K-1"}');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ credential: 'opco-atlas', kind: 'opco-atlas' });
    expect(JSON.parse((await sesame(['credential', 'set', 'acme', 'opco-atlas-2', '--json'], '{"cfa_key":"K-2"}')).stdout)).toMatchObject({ kind: 'opco-atlas' });
    // A --kind given must agree with the id.
    const other = await sesame(['credential', 'set', 'acme', 'opco-atlas', '--kind', 'fla'], '{"cfa_key":"K-3"}');
    expect(other).toMatchObject({ code: 2, stderr: 'sesame: credential id "opco-atlas" is of kind "opco-atlas", not "fla"\n' });
  });

  it('says a field of the wrong type must be a string, and a missing one is required', async () => {
    const wrong = await sesame(['credential', 'set', 'acme', 'opco-atlas'], '{"cfa_key": 42}');
    expect(wrong).toMatchObject({ code: 1, stderr: 'sesame: opco-atlas credential: field "cfa_key" must be a string\n' });
    const missing = await sesame(['credential', 'set', 'acme', 'opco-atlas'], '{"expires_at": "2030-01-01"}');
    expect(missing).toMatchObject({ code: 1, stderr: 'sesame: opco-atlas credential: field "cfa_key" is required\n' });
  });
});

describe('validate', () => {
  const schema = z.strictObject({ a: z.string(), n: z.object({ b: z.number() }).optional(), list: z.array(z.string()).optional() });
  it.each([
    [{}, 'x: field "a" is required'],
    [{ a: 1 }, 'x: field "a" must be a string'],
    [{ a: null }, 'x: field "a" must be a string'],
    [{ a: 'ok', n: {} }, 'x: field "n.b" is required'],
    [{ a: 'ok', n: { b: 'two' } }, 'x: field "n.b" must be a number'],
    [{ a: 'ok', n: 'nested' }, 'x: field "n" must be an object'],
    [{ a: 'ok', list: [1] }, 'x: field "list.0" must be a string'],
    ['S3cret', 'x: must be an object'],
  ])('%j → %s', (input, message) => {
    expect(() => validate(schema, input, 'x')).toThrowError(message);
  });
});
