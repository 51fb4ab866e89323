import { existsSync, readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { SesameStack, type SesameStackProps } from '../lib/sesame-stack.ts';

/** Who gets alerts, from sesame.config.json when present (see sesame.config.example.json). */
function recipients(): Pick<SesameStackProps, 'recipients' | 'chorusPolicyOids'> {
  const file = process.env.SESAME_CONFIG ?? 'sesame.config.json';
  if (!existsSync(file)) return {};
  const config = JSON.parse(readFileSync(file, 'utf8')) as { operatorEmail?: string; tenants?: { id: string; alertEmails?: string[] }[]; chorusPolicyOids?: string[] };
  return {
    recipients: {
      ...(config.operatorEmail ? { operatorEmail: config.operatorEmail } : {}),
      tenants: (config.tenants ?? []).map((t) => ({ id: t.id, alertEmails: t.alertEmails ?? [] })),
    },
    ...(config.chorusPolicyOids ? { chorusPolicyOids: config.chorusPolicyOids } : {}),
  };
}

const app = new App();
new SesameStack(app, 'Sesame', {
  description: 'Sesame credential broker',
  ...recipients(),
  ...(process.env.CDK_DEFAULT_ACCOUNT ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } } : {}),
});
app.synth();
