import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag acknowledgements, each for one precise finding with its reason. Findings
 * name resources as cdk-nag renders them, so a wildcard added elsewhere still fails.
 */
export function acknowledgeWildcard(construct: IConstruct, resource: string, reason: string): void {
  Validations.of(construct).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
}

/** A Secrets Manager ARN pattern as cdk-nag prints it. */
export function secretPattern(scope: IConstruct, prefix: string): string {
  const stack = Stack.of(scope);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${prefix}*`;
}

/** The singleton constructs CDK adds at stack level (bucket notifications, scheduler roles). */
export function stackChildren(scope: IConstruct, idPrefix: string): IConstruct[] {
  return Stack.of(scope).node.children.filter((c) => c.node.id.startsWith(idPrefix));
}
