#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so that the repository has no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
const code = await main(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
