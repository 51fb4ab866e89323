import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { System } from '../adapters/system.ts';
import { startOAuthServer, type OAuthServer } from './oauth-server.ts';

/**
 * Demo tenants whose OAuth credentials point at a loopback OAuth2 server, so that a
 * fresh clone shows real tokens offline. Every secret is generated at start: none
 * is written in the repository.
 */
export const DEMO_APP = 'demo-app';
export const DEMO_TENANTS = {
  cfa: 'demo-cfa-paris',
  mandataire: 'demo-secretariat-bruxelles',
} as const;

const FLA_EMPLOYER_SCOPE = 'scope:sigedis:gestion:careerpro-federal-learning-account:employer';
const FLA_PROVIDER_SCOPE = 'scope:sigedis:gestion:careerpro-federal-learning-account:provider';

export interface Demo {
  oauth: OAuthServer;
  appKey: string;
  examples: { tenant: string; credential: string }[];
}

const pem = (k: { export(o: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const secret = () => randomBytes(24).toString('base64url');

export async function seedDemo(system: System): Promise<Demo> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const piste = { client_id: 'demo-piste-client', client_secret: secret() };
  const oauth = await startOAuthServer({
    clients: [
      { client_id: 'self_service_chaman_demo_employer', auth: 'private_key_jwt', publicKey: rsa.publicKey, scope: FLA_EMPLOYER_SCOPE },
      { client_id: 'self_service_chaman_demo_provider', auth: 'private_key_jwt', publicKey: ec.publicKey, scope: FLA_PROVIDER_SCOPE },
      { ...piste, auth: 'client_secret_post', scope: 'openid' },
    ],
  });

  const { tenants, credentials, apps } = system;
  await tenants.put({ id: DEMO_TENANTS.cfa, name: 'CFA Démo Paris', siret: '12345678200010', alert_emails: ['alertes@cfa-demo.example'] });
  await tenants.put({ id: DEMO_TENANTS.mandataire, name: 'Secrétariat social Démo', bce: '0123456749', alert_emails: ['ops@secretariat-demo.example'] });

  const inMonths = (m: number) => new Date(system.clock.now().getTime() + m * 30 * 86_400_000).toISOString().slice(0, 10);
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

  // A new key at every start: the previous one is revoked, the new one shown once.
  if (await apps.find(DEMO_APP)) await apps.revoke(DEMO_APP);
  const { key } = await apps.add({ app: DEMO_APP, tenants: [DEMO_TENANTS.cfa, DEMO_TENANTS.mandataire] });

  return {
    oauth,
    appKey: key,
    examples: [
      { tenant: DEMO_TENANTS.cfa, credential: 'fla-employer' },
      { tenant: DEMO_TENANTS.cfa, credential: 'chorus-piste' },
      { tenant: DEMO_TENANTS.cfa, credential: 'opco-atlas' },
      { tenant: DEMO_TENANTS.mandataire, credential: 'fla-provider-acc' },
    ],
  };
}
