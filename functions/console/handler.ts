import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConsoleHandler } from './console.ts';

/**
 * The console's Lambda entry: the built files ship in a `console/` folder beside the
 * bundle; the environment is read once, at cold start, and a missing variable fails it.
 */
const dir = join(dirname(fileURLToPath(import.meta.url)), 'console');
export const handler = makeConsoleHandler({ dir, env: process.env });
