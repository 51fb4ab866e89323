import { RemovalPolicy, SecretValue, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { credentialSecretName, TAG } from '../functions/core/credentials.ts';
import { parseCredentialId } from '../functions/core/ids.ts';
import { secretPolicyStatement } from '../functions/core/secret-policy.ts';
import { KINDS, platformOf } from '../functions/core/platforms/index.ts';
import { tenantSecretName } from '../functions/core/tenants.ts';
import type { SesameConfig } from './config.ts';
import type { SecretsVault } from './secrets-vault.ts';

/**
 * One secret per declared tenant and credential. Credential bodies are placeholders
 * (which the broker answers as `credential_incomplete`): values never appear in the
 * template and are filled later with `sesame --aws credential set`.
 */
export class TenantSecrets extends Construct {
  readonly secrets: secretsmanager.Secret[] = [];

  /** `allowed`: the principals the stack computes once (SesameStack.secretPrincipals), the same the CLI applies. */
  constructor(scope: Construct, id: string, props: { vault: SecretsVault; config: SesameConfig; allowed: readonly string[] }) {
    super(scope, id);
    // The statement the CLI writes on the secrets it creates, from the same function: one policy for every Sesame secret.
    const statement = secretPolicyStatement(props.allowed);
    const guard = (secret: secretsmanager.Secret) => {
      // Denies every other principal of the account, whatever secretsmanager:* its identity policies hold.
      secret.addToResourcePolicy(iam.PolicyStatement.fromJson(statement));
      Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'These credentials are issued by the platforms (OPCO extranets, PISTE, Chaman, Cegid Life), which Sesame cannot call to rotate them; the expiry watch warns people before they lapse.' });
      this.secrets.push(secret);
    };

    for (const tenant of props.config.tenants) {
      const record = { id: tenant.id, name: tenant.name, ...(tenant.siret ? { siret: tenant.siret } : {}), ...(tenant.siren ? { siren: tenant.siren } : {}), ...(tenant.bce ? { bce: tenant.bce } : {}), alert_emails: tenant.alertEmails };
      const t = new secretsmanager.Secret(this, `Tenant-${tenant.id}`, {
        secretName: tenantSecretName(tenant.id),
        description: `Sesame tenant ${tenant.id}`,
        // CDK then adds a key-policy statement for the account through Secrets Manager: redundant with the root statement.
        encryptionKey: props.vault.key,
        // Not a secret: the tenant record (name, alert addresses), as the stack declares it.
        secretStringValue: SecretValue.unsafePlainText(JSON.stringify(record)),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Tags.of(t).add('sesame:tenant', tenant.id);
      Tags.of(t).add('sesame:type', 'tenant');
      guard(t);

      for (const c of tenant.credentials) {
        const { kind } = parseCredentialId(c.id, KINDS);
        const environment = c.environment ?? platformOf(kind).environments[0];
        const s = new secretsmanager.Secret(this, `Credential-${tenant.id}-${c.id}`, {
          secretName: credentialSecretName(tenant.id, c.id),
          description: `Sesame ${kind} credential ${c.id} of ${tenant.id}`,
          encryptionKey: props.vault.key,
          // A placeholder, never a value. It must stay the same: a changed body would be a new version over a filled one.
          secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ tenant: tenant.id, credential: c.id, kind, placeholder: true })),
          removalPolicy: RemovalPolicy.RETAIN,
        });
        Tags.of(s).add(TAG.tenant, tenant.id);
        Tags.of(s).add(TAG.credential, c.id);
        Tags.of(s).add(TAG.kind, kind);
        Tags.of(s).add(TAG.environment, environment as string);
        guard(s);
      }
    }
  }
}
