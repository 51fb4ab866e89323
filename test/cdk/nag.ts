import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SesameStack, type SesameStackProps } from '../../lib/sesame-stack.ts';

export interface Finding {
  rule: string;
  severity: string;
  path: string;
}

/** Synthesizes the stack under cdk-nag's AwsSolutions pack and returns what it reports. */
export function nagFindings(props: Omit<SesameStackProps, 'env'> = {}): { findings: Finding[]; threw: boolean } {
  const outdir = mkdtempSync(join(tmpdir(), 'sesame-nag-'));
  const flags = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ outdir, context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  new SesameStack(app, 'Nag', { ...props, env: { account: '111122223333', region: 'eu-west-3' } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let threw = false;
  try {
    app.synth();
  } catch {
    threw = true;
  }
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { violations?: { ruleName: string; severity: string; violatingConstructs?: { constructPath: string }[] }[] }[];
  };
  const findings = report.pluginReports.flatMap((p) => (p.violations ?? []).flatMap((v) => (v.violatingConstructs ?? []).map((c) => ({ rule: v.ruleName, severity: v.severity, path: c.constructPath }))));
  return { findings, threw };
}
