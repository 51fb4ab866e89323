import type { z } from 'zod';
import { SesameError, type ErrorCode } from './errors.ts';

/**
 * Parses with a zod schema and turns the first issue into a SesameError naming the
 * field. Zod messages describe the expectation, never the input value, so they are
 * safe for secret fields.
 */
export function validate<T>(schema: z.ZodType<T>, input: unknown, label: string, code: ErrorCode = 'invalid_request'): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const keys = issue && 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
  const field = keys.length > 0 ? keys.join(', ') : path;
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`
      : issue?.code === 'invalid_type' && issue.input === undefined
        ? `field "${path}" is required`
        : `field "${path}" ${issue?.message ?? 'is invalid'}`;
  throw new SesameError(code, `${label}: ${path === '' && issue?.code !== 'unrecognized_keys' ? (issue?.message ?? 'invalid') : message}`, {
    details: { field },
  });
}
