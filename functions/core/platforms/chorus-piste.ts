import { z } from 'zod';
import { addDays, endpointUrl, isoDate, text } from './fields.ts';
import { definePlatform, type Environment, type PlatformNames } from './types.ts';

/** Chorus Pro API through PISTE OAuth2 (AIFE, source doc 002 and PROVIDERS.md). */

/** Chorus Pro forces a change of the technical account password every 424 days. */
export const PASSWORD_LIFETIME_DAYS = 424;

const TOKEN_ENDPOINTS: Partial<Record<Environment, string>> = {
  production: 'https://oauth.piste.gouv.fr/api/oauth/token',
  sandbox: 'https://sandbox-oauth.piste.gouv.fr/api/oauth/token',
};
const BASE_URLS: Partial<Record<Environment, string>> = {
  production: 'https://api.piste.gouv.fr/cpro',
  sandbox: 'https://sandbox-api.piste.gouv.fr/cpro',
};

const schema = z.strictObject({
  client_id: text(256),
  client_secret: text(1024),
  account_login: text(256),
  account_password: text(256),
  password_changed_at: isoDate.optional(),
  token_endpoint: endpointUrl.optional(),
  scope: text(1024).optional(),
  base_url: endpointUrl.optional(),
});
type PisteFields = z.infer<typeof schema>;

const NAMES = {
  short: 'Chorus PISTE',
  expiries: {
    password: { fr: 'mot de passe du compte technique Chorus Pro', en: 'Chorus Pro technical account password', short: 'Chorus password' },
  },
} satisfies PlatformNames;

export default definePlatform<PisteFields>({
  kind: 'chorus-piste',
  title: { fr: 'Chorus Pro (API via PISTE)', en: 'Chorus Pro (API through PISTE)' },
  names: NAMES,
  environments: ['production', 'sandbox'],
  schema,
  secretFields: ['client_secret', 'account_password'],
  expiries(f) {
    if (!f.password_changed_at) return [];
    return [
      {
        what: NAMES.expiries.password,
        at: addDays(new Date(f.password_changed_at), PASSWORD_LIFETIME_DAYS),
      },
    ];
  },
  material(f, ctx) {
    const account = Buffer.from(`${f.account_login}:${f.account_password}`, 'utf8').toString('base64');
    return {
      type: 'oauth',
      tokenEndpoint: f.token_endpoint ?? TOKEN_ENDPOINTS[ctx.environment] ?? (TOKEN_ENDPOINTS.production as string),
      baseUrl: f.base_url ?? BASE_URLS[ctx.environment] ?? null,
      form: async () => ({
        grant_type: 'client_credentials',
        client_id: f.client_id,
        client_secret: f.client_secret,
        scope: f.scope ?? 'openid',
      }),
      headers: (token) => ({ Authorization: `Bearer ${token}`, 'cpro-account': account }),
    };
  },
  renewal: {
    fr: [
      'Se connecter à Chorus Pro (portail qualification ou production selon l’environnement) avec un compte gestionnaire de la structure.',
      'Menu « Raccordements EDI et API » : ouvrir le compte technique utilisé par l’API.',
      'Changer le mot de passe du compte technique (obligatoire tous les 424 jours) et le noter.',
      'Enregistrer le nouveau mot de passe dans Sesame avec `password_changed_at` à la date du jour (`sesame credential set`).',
      'Les identifiants PISTE (client_id/client_secret) se renouvellent dans l’application PISTE, onglet « Identifiants OAuth ».',
    ],
    en: [
      'Sign in to Chorus Pro (qualification or production portal, per environment) with a manager account of the organisation.',
      '"Raccordements EDI et API" menu: open the technical account used by the API.',
      'Change the technical account password (required every 424 days) and note it.',
      'Store the new password in Sesame with `password_changed_at` set to today (`sesame credential set`).',
      'PISTE credentials (client_id/client_secret) are renewed in the PISTE application, "OAuth credentials" tab.',
    ],
  },
});
