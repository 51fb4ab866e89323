#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so that the repository has no build step.
import { register } from 'tsx/esm/api';

// The AWS SDK warns in eight lines, on every --aws command, that its 2027 releases will
// need Node 22: the README says so once, and the CLI keeps its one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('./cli.ts');
const code = await main(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
