import { existsSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { loadConfig } from '../lib/config.ts';
import { SesameStack } from '../lib/sesame-stack.ts';

// sesame.config.json (or $SESAME_CONFIG) declares tenants, credentials and recipients;
// without it the stack deploys the broker alone.
const file = process.env.SESAME_CONFIG ?? 'sesame.config.json';
const config = existsSync(file) ? loadConfig(file) : undefined;

const app = new App();
new SesameStack(app, 'Sesame', {
  description: 'Sesame credential broker',
  ...(config ? { config } : {}),
  ...(process.env.CDK_DEFAULT_ACCOUNT ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } } : {}),
});
app.synth();
