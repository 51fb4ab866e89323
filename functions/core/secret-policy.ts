/**
 * The resource policy on every secret Sesame creates, whether the stack declares it or
 * `sesame --aws` creates it at run time: deny everything to every principal except the
 * broker's functions, the administrators' role and CloudFormation's deployment role.
 * IAM identity policies still decide what each of those may do; this keeps out anyone
 * else in the account who holds a broad `secretsmanager:*` grant.
 */
export const SECRET_POLICY_SID = 'OnlySesameAndItsAdministrators';

export interface SecretPolicyStatement {
  Sid: string;
  Effect: 'Deny';
  Principal: { AWS: '*' };
  Action: 'secretsmanager:*';
  Resource: '*';
  Condition: { ArnNotLike: { 'aws:PrincipalArn': string[] } };
}

export function secretPolicyStatement(allowedPrincipalArns: readonly string[]): SecretPolicyStatement {
  return {
    Sid: SECRET_POLICY_SID,
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'secretsmanager:*',
    Resource: '*',
    Condition: { ArnNotLike: { 'aws:PrincipalArn': [...allowedPrincipalArns] } },
  };
}

export function secretPolicyDocument(allowedPrincipalArns: readonly string[]): { Version: '2012-10-17'; Statement: SecretPolicyStatement[] } {
  return { Version: '2012-10-17', Statement: [secretPolicyStatement(allowedPrincipalArns)] };
}

/** The stack output that lists the allowed principals, comma-separated, for `sesame --aws`. */
export const SECRET_PRINCIPALS_OUTPUT = 'SecretPrincipals';
