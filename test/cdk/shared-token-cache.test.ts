import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { SecretsVault } from '../../lib/secrets-vault.ts';
import { StateTable, TOKEN_CACHE_ACTIONS } from '../../lib/state-table.ts';
import { TokenApi } from '../../lib/token-api.ts';
import { grantsOf, render } from './template.ts';

/**
 * The token function with the shared token cache (TokenApi given the state table):
 * what it may do on the table and with the key, and nothing more; cdk-nag's AwsSolutions
 * pack finds nothing in it. The whole stack's nag test is test/cdk/security.test.ts.
 */
function build(withState: boolean, outdir?: string) {
  const flags = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ ...(outdir ? { outdir } : {}), context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Shared', { env: { account: '111122223333', region: 'eu-west-3' } });
  const vault = new SecretsVault(stack, 'Secrets');
  const state = new StateTable(stack, 'State', { key: vault.key });
  new TokenApi(stack, 'TokenApi', { vault, ...(withState ? { state } : {}) });
  return { app, stack };
}

const KEY = /\$\{SecretsKey[0-9A-F]+\.Arn\}/.source;
const TABLE = /\$\{StateTable[0-9A-F]+\.Arn\}/.source;

describe('the token function with the shared token cache', () => {
  const template = Template.fromStack(build(true).stack);

  it('may get and put items whose partition key starts with token#, on the state table only: no delete, query, scan or update', () => {
    const grants = grantsOf(template, 'TokenApiToken', ['dynamodb']);
    expect(grants).toHaveLength(TOKEN_CACHE_ACTIONS.length);
    for (const [i, action] of ['dynamodb:GetItem', 'dynamodb:PutItem'].entries()) {
      expect(grants[i]).toMatch(new RegExp(`^${action} ${TABLE} if \\{"ForAllValues:StringLike":\\{"dynamodb:LeadingKeys":\\["token#\\*"\\]\\}\\}$`));
    }
  });

  it('may use the stack key directly for GenerateDataKey and Decrypt under the token-cache encryption context only, and otherwise through DynamoDB and Secrets Manager only', () => {
    const kms = grantsOf(template, 'TokenApiToken', ['kms']);
    const context = '{"StringEquals":{"kms:EncryptionContext:sesame:purpose":"token-cache"},"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["sesame:purpose"]}}';
    const viaDynamo = '{"StringEquals":{"kms:ViaService":"dynamodb.eu-west-3.amazonaws.com"}}';
    const viaSecrets = '{"StringEquals":{"kms:ViaService":"secretsmanager.eu-west-3.amazonaws.com"}}';
    const expected = [
      `kms:Decrypt ${KEY} if ${escape(context)}`,
      `kms:Decrypt ${KEY} if ${escape(viaDynamo)}`,
      `kms:Decrypt ${KEY} if ${escape(viaSecrets)}`,
      `kms:DescribeKey ${KEY} if ${escape(viaDynamo)}`,
      `kms:Encrypt ${KEY} if ${escape(viaDynamo)}`,
      `kms:GenerateDataKey ${KEY} if ${escape(context)}`,
      `kms:GenerateDataKey ${KEY} if ${escape(viaDynamo)}`,
    ];
    expect(kms).toHaveLength(expected.length);
    for (const pattern of expected) expect(kms.filter((g) => new RegExp(`^${pattern}$`).test(g)), pattern).toHaveLength(1);
    // Every direct use of the key (no kms:ViaService) carries the encryption context condition.
    expect(kms.filter((g) => !g.includes('kms:ViaService')).every((g) => g.includes('"kms:EncryptionContext:sesame:purpose":"token-cache"'))).toBe(true);
  });

  it('is told the table and the sealing key by its environment', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    const token = Object.entries(fns).find(([id]) => id.startsWith('TokenApiToken'))?.[1];
    const variables = render(token?.Properties.Environment.Variables) as Record<string, string>;
    expect(variables.SESAME_STATE_TABLE).toMatch(/^\$\{StateTable[0-9A-F]+\}$/);
    expect(variables.SESAME_TOKEN_CACHE_KEY).toMatch(new RegExp(`^${KEY}$`));
  });

  it('gets no state table, key or variable of the cache when the token API is built without it', () => {
    const plain = Template.fromStack(build(false).stack);
    expect(grantsOf(plain, 'TokenApiToken', ['dynamodb'])).toEqual([]);
    expect(grantsOf(plain, 'TokenApiToken', ['kms']).every((g) => g.includes('secretsmanager.eu-west-3.amazonaws.com'))).toBe(true);
    const fns = plain.findResources('AWS::Lambda::Function');
    const token = Object.entries(fns).find(([id]) => id.startsWith('TokenApiToken'))?.[1];
    expect(Object.keys(token?.Properties.Environment.Variables ?? {})).not.toContain('SESAME_TOKEN_CACHE_KEY');
  });

  it('draws no cdk-nag AwsSolutions finding', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'sesame-nag-shared-'));
    const { app } = build(true, outdir);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let threw = false;
    try {
      app.synth();
    } catch {
      threw = true;
    }
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: { ruleName: string; violatingConstructs?: { constructPath: string }[] }[] }[];
    };
    const findings = report.pluginReports.flatMap((p) => (p.violations ?? []).flatMap((v) => (v.violatingConstructs ?? []).map((c) => `${v.ruleName} ${c.constructPath}`)));
    expect(findings).toEqual([]);
    expect(threw).toBe(false);
  }, 60_000);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
