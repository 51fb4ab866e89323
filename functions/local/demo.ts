import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { System } from '../adapters/system.ts';
import { startOAuthServer, type OAuthServer, type OperatorOptions } from './oauth-server.ts';

/**
 * Demo tenants whose OAuth credentials point at a loopback OAuth2 server, so that a
 * fresh clone shows real tokens offline. Every secret is generated at start: none
 * is written in the repository.
 */
export const DEMO_APP = 'demo-app';
export const DEMO_TENANTS = {
  cfa: 'demo-cfa-paris',
  mandataire: 'demo-secretariat-bruxelles',
  lyon: 'demo-cfa-lyon',
} as const;

/** The operator console's demo login: the username is fixed, the password new at every start. */
export const DEMO_OPERATOR = 'operateur';

/** The operator account of the loopback OpenID provider, for a broker listening at `brokerUrl`. */
export function demoOperator(brokerUrl: string): OperatorOptions {
  return {
    username: DEMO_OPERATOR,
    password: randomBytes(12).toString('base64url'),
    email: 'operateur@sesame.example',
    redirectUris: [`${brokerUrl}/console/callback`],
    postLogoutRedirectUris: [`${brokerUrl}/console/`],
  };
}

const FLA_EMPLOYER_SCOPE = 'scope:sigedis:gestion:careerpro-federal-learning-account:employer';
const FLA_PROVIDER_SCOPE = 'scope:sigedis:gestion:careerpro-federal-learning-account:provider';

export interface Demo {
  oauth: OAuthServer;
  appKey: string;
  examples: { tenant: string; credential: string }[];
  /** The console's login, when an operator was given. */
  operator?: { username: string; password: string };
}

const pem = (k: { export(o: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const secret = () => randomBytes(24).toString('base64url');

export async function seedDemo(system: System, options: { operator?: OperatorOptions } = {}): Promise<Demo> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const piste = { client_id: 'demo-piste-client', client_secret: secret() };
  const oauth = await startOAuthServer({
    clients: [
      { client_id: 'self_service_chaman_demo_employer', auth: 'private_key_jwt', publicKey: rsa.publicKey, scope: FLA_EMPLOYER_SCOPE },
      { client_id: 'self_service_chaman_demo_provider', auth: 'private_key_jwt', publicKey: ec.publicKey, scope: FLA_PROVIDER_SCOPE },
      { ...piste, auth: 'client_secret_post', scope: 'openid' },
    ],
    ...(options.operator ? { operator: options.operator } : {}),
  });

  const { tenants, credentials, apps } = system;
  await tenants.put({ id: DEMO_TENANTS.cfa, name: 'CFA Démo Paris', siret: '12345678200010', alert_emails: ['alertes@cfa-demo.example'] });
  await tenants.put({ id: DEMO_TENANTS.mandataire, name: 'Secrétariat social Démo', bce: '0123456749', alert_emails: ['ops@secretariat-demo.example'] });
  await tenants.put({ id: DEMO_TENANTS.lyon, name: 'CFA Démo Lyon', alert_emails: ['it@cfa-lyon-demo.example'] });

  const inDays = (d: number) => new Date(system.clock.now().getTime() + d * 86_400_000).toISOString().slice(0, 10);
  const inMonths = (m: number) => inDays(m * 30);
  await credentials.set({
    tenant: DEMO_TENANTS.cfa,
    credential: 'fla-employer',
    environment: 'acceptance',
    fields: { client_id: 'self_service_chaman_demo_employer', private_key: pem(rsa.privateKey), quality: 'employer', token_endpoint: oauth.tokenEndpoint, scope: FLA_EMPLOYER_SCOPE },
  });
  await credentials.set({
    tenant: DEMO_TENANTS.cfa,
    credential: 'chorus-piste',
    environment: 'sandbox',
    fields: { ...piste, account_login: 'TECH_demo@cpro.fr', account_password: secret(), password_changed_at: inMonths(-3), token_endpoint: oauth.tokenEndpoint },
  });
  await credentials.set({
    tenant: DEMO_TENANTS.cfa,
    credential: 'opco-atlas',
    fields: { cfa_key: secret(), expires_at: inMonths(5), editeur: 'Sesame', logiciel: 'Sesame demo', version: '1.0' },
  });
  await credentials.set({ tenant: DEMO_TENANTS.cfa, credential: 'opco-ocapiat', fields: { cfa_key: secret(), lifetime_months: 6 } });
  await credentials.set({ tenant: DEMO_TENANTS.cfa, credential: 'cegid-cfe', fields: { api_key_id: 'demo-key-id', api_key_secret: secret() } });
  await credentials.set({
    tenant: DEMO_TENANTS.mandataire,
    credential: 'fla-provider-acc',
    environment: 'acceptance',
    fields: { client_id: 'self_service_chaman_demo_provider', private_key: pem(ec.privateKey), quality: 'provider', token_endpoint: oauth.tokenEndpoint, scope: FLA_PROVIDER_SCOPE },
  });

  // What the console has to show besides: a key that expires within 14 days, one that has
  // expired, and a Chorus EDI connection declared before its certificate is uploaded.
  await credentials.set({
    tenant: DEMO_TENANTS.lyon,
    credential: 'opco-akto',
    fields: { cfa_key: secret(), expires_at: inDays(10), editeur: 'Sesame', logiciel: 'Sesame demo', version: '1.0' },
  });
  await credentials.set({ tenant: DEMO_TENANTS.lyon, credential: 'opco-afdas', fields: { cfa_key: secret(), expires_at: inDays(-20) } });
  await credentials.set({ tenant: DEMO_TENANTS.lyon, credential: 'chorus-edi', environment: 'production', fields: { usage: 'client' } });

  // A new key at every start: the previous one is revoked, the new one shown once.
  if (await apps.find(DEMO_APP)) await apps.revoke(DEMO_APP);
  const { key } = await apps.add({ app: DEMO_APP, tenants: Object.values(DEMO_TENANTS) });

  return {
    oauth,
    appKey: key,
    examples: [
      { tenant: DEMO_TENANTS.cfa, credential: 'fla-employer' },
      { tenant: DEMO_TENANTS.cfa, credential: 'chorus-piste' },
      { tenant: DEMO_TENANTS.cfa, credential: 'opco-atlas' },
      { tenant: DEMO_TENANTS.mandataire, credential: 'fla-provider-acc' },
    ],
    ...(options.operator ? { operator: { username: options.operator.username, password: options.operator.password } } : {}),
  };
}
