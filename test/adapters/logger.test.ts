import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../functions/adapters/logger.ts';
import { describeError, SesameError } from '../../functions/core/errors.ts';

/** The real Powertools logger, its JSON lines captured where Lambda would read them. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const spy = (chunk: unknown) => {
    for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
    return true;
  };
  // Lambda reads both streams; the logger writes warnings and errors to stderr.
  vi.spyOn(process.stdout, 'write').mockImplementation(spy as typeof process.stdout.write);
  vi.spyOn(process.stderr, 'write').mockImplementation(spy as typeof process.stderr.write);
  return lines;
}

afterEach(() => vi.restoreAllMocks());

describe('error details in operator logs', () => {
  it.each([
    ['store_corrupt', new SesameError('store_corrupt', 'secret sesame/acme/fla does not hold JSON')],
    ['unauthorized', new SesameError('unauthorized', 'app key of "billing" was revoked')],
    ['an unexpected error', new TypeError('cannot read properties of undefined')],
  ])('keep the detail of %s through the Powertools logger', (_name, err) => {
    const lines = capture();
    createLogger('sesame-test', 'INFO').error('request failed', describeError(err));
    const line = lines.find((l) => l.message === 'request failed');
    expect(line).toBeDefined();
    expect(line?.detail).toBe(err.message);
    expect(line?.code).toBe(err instanceof SesameError ? err.code : 'internal');
  });

  it('never logs the payload of a store_corrupt cause', () => {
    const lines = capture();
    const err = new SesameError('store_corrupt', 'secret sesame/acme/fla does not hold JSON', { cause: new SyntaxError('Unexpected token s in "s3cr3t-value"') });
    createLogger('sesame-test', 'INFO').error('request failed', describeError(err));
    expect(JSON.stringify(lines)).not.toContain('s3cr3t-value');
    expect(lines[0]?.detail).toBe('secret sesame/acme/fla does not hold JSON');
  });
});
