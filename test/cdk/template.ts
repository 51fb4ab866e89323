import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SesameStack, type SesameStackProps } from '../../lib/sesame-stack.ts';

/** The synthesized stack, without bundling (esbuild output is not under test here). */
export function synth(props: Omit<SesameStackProps, 'env'> = {}): { template: Template; stack: SesameStack } {
  // The feature flags of cdk.json, as `cdk synth` uses them; no bundling (esbuild is not under test here).
  const flags = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new SesameStack(app, 'Test', { ...props, env: { account: '111122223333', region: 'eu-west-3' } });
  return { template: Template.fromStack(stack), stack };
}

/** Renders CloudFormation intrinsics as readable strings, to compare ARNs as text. */
export function render(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(render);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => String(render(p))).join(sep);
    }
    if ('Ref' in o) return `\${${String(o.Ref)}}`;
    if ('Fn::GetAtt' in o) return `\${${(o['Fn::GetAtt'] as string[]).join('.')}}`;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, render(x)]));
  }
  return v;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}

/** Every IAM statement attached to the role of the function whose logical id starts with `prefix`. */
export function statementsOf(template: Template, prefix: string): Statement[] {
  const fns = template.findResources('AWS::Lambda::Function');
  const fnId = Object.keys(fns).find((id) => id.startsWith(prefix));
  if (!fnId) throw new Error(`no function ${prefix}`);
  const roleRef = (fns[fnId]!.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
    .flatMap((p) => render(p.Properties.PolicyDocument.Statement) as Statement[]);
}

/** Every IAM statement attached to the role whose logical id starts with `prefix`. */
export function roleStatementsOf(template: Template, prefix: string): Statement[] {
  const roleRef = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith(prefix));
  if (!roleRef) throw new Error(`no role ${prefix}`);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
    .flatMap((p) => render(p.Properties.PolicyDocument.Statement) as Statement[]);
}

/**
 * Every (action, resource, condition) a role is granted, one line each, sorted: exact
 * about what is allowed, whatever way IAM statements were merged.
 */
export function grantsOf(template: Template, prefix: string, services?: string[]): string[] {
  return linesOf(statementsOf(template, prefix), services);
}

/** grantsOf for a role that belongs to no Sesame function (e.g. the scheduler's). */
export function roleGrantsOf(template: Template, rolePrefix: string, services?: string[]): string[] {
  return linesOf(roleStatementsOf(template, rolePrefix), services);
}

function linesOf(statements: Statement[], services?: string[]): string[] {
  const out: string[] = [];
  for (const st of statements) {
    for (const action of [st.Action].flat()) {
      if (services && !services.some((s) => action.startsWith(`${s}:`))) continue;
      for (const resource of [st.Resource].flat()) out.push(`${(st as { Effect?: string }).Effect === 'Deny' ? 'DENY ' : ''}${action} ${resource}${st.Condition ? ` if ${JSON.stringify(st.Condition)}` : ''}`);
    }
  }
  return out.sort();
}
