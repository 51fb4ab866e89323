import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { Config } from '../core/config.ts';
import { SesameError } from '../core/errors.ts';
import { SECRET_PRINCIPALS_OUTPUT } from '../core/secret-policy.ts';
import type { SecretCreation } from './aws-secret-store.ts';

/**
 * `sesame --aws` finds what it needs in the deployed stack's outputs (the same the
 * README's deploy guide lists), so an administrator sets one name, not five ARNs.
 * An environment variable, when set, wins over the output.
 */
export interface AwsTargets {
  stackName: string;
  /** Whether the stack was found; undefined when it was not looked up. */
  stackFound: boolean | undefined;
  kmsKeyId: string | undefined;
  principals: string[] | undefined;
  bucket: string | undefined;
  alertsTopicArn: string | undefined;
  /** The state table (connect links…). */
  stateTable: string | undefined;
}

export async function stackOutputs(stackName: string, client: CloudFormationClient = new CloudFormationClient({})): Promise<Record<string, string> | undefined> {
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    return stack ? Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])) : undefined;
  } catch (err) {
    // CloudFormation says a missing stack is a ValidationError "Stack with id … does not exist".
    if ((err as Error).name === 'ValidationError' && /does not exist/.test((err as Error).message)) return undefined;
    // Not allowed to describe stacks: the variables must then say it all.
    if ((err as Error).name === 'AccessDenied' || (err as Error).name === 'AccessDeniedException') return undefined;
    throw err;
  }
}

export async function resolveAwsTargets(config: Config, client?: CloudFormationClient): Promise<AwsTargets> {
  const complete = config.kmsKeyId && config.secretPrincipals && config.bucket && config.alertsTopicArn && config.stateTable;
  const outputs = complete ? undefined : await stackOutputs(config.stackName, client);
  const principals = outputs?.[SECRET_PRINCIPALS_OUTPUT]?.split(',').map((p) => p.trim()).filter(Boolean);
  return {
    stackName: config.stackName,
    stackFound: complete ? undefined : outputs !== undefined,
    kmsKeyId: config.kmsKeyId ?? (outputs?.KmsKeyArn || undefined),
    principals: config.secretPrincipals ?? (principals?.length ? principals : undefined),
    bucket: config.bucket ?? (outputs?.IntakeBucket || undefined),
    alertsTopicArn: config.alertsTopicArn ?? (outputs?.AlertsTopicArn || undefined),
    stateTable: config.stateTable ?? (outputs?.StateTable || undefined),
  };
}

/** What a new secret needs, or a refusal naming how to provide it. */
export function secretCreation(targets: AwsTargets): () => Promise<SecretCreation> {
  return async () => {
    const where = targets.stackFound === false ? ` (no stack named "${targets.stackName}" was found: set SESAME_STACK to the deployed stack's name)` : '';
    if (!targets.kmsKeyId) {
      throw new SesameError('invalid_request', `no KMS key for new secrets: set SESAME_KMS_KEY_ID to the stack's KmsKeyArn output${where}; Sesame never falls back to the AWS-managed key`);
    }
    if (!targets.principals) {
      throw new SesameError('invalid_request', `no resource policy for new secrets: set SESAME_SECRET_PRINCIPALS to the stack's ${SECRET_PRINCIPALS_OUTPUT} output${where}`);
    }
    return { kmsKeyId: targets.kmsKeyId, principals: targets.principals };
  };
}
