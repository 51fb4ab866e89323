import { App } from 'aws-cdk-lib';
import { SesameStack } from '../lib/sesame-stack.ts';

const app = new App();
new SesameStack(app, 'Sesame', {
  description: 'Sesame credential broker',
  ...(process.env.CDK_DEFAULT_ACCOUNT ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } } : {}),
});
app.synth();
