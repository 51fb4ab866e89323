import * as z from 'zod';
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

const schema = () =>
  z.strictObject({
  client_id: text(256),
  client_secret: text(1024),
  account_login: text(256),
  account_password: text(256),
  password_changed_at: isoDate().optional(),
  token_endpoint: endpointUrl().optional(),
  scope: text(1024).optional(),
  base_url: endpointUrl().optional(),
});
type PisteFields = z.infer<ReturnType<typeof schema>>;

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
  // What expires is the technical account password (424 days): an account of the client's
  // structure on Chorus Pro, changed by a manager of that structure (PROVIDERS.md, Chorus Pro).
  renewedBy: 'client',
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
  connect: {
    who: { fr: 'le gestionnaire de la structure sur Chorus Pro (et PISTE)', en: "the organisation's manager on Chorus Pro (and PISTE)" },
    steps: {
      fr: [
        'Le raccordement API passe par PISTE en OAuth2 : aucun certificat n’est nécessaire.',
        'Se connecter à Chorus Pro (portail de qualification ou de production selon l’environnement) avec un compte gestionnaire de la structure.',
        'Menu « Raccordements EDI et API » : ouvrir (ou créer) le compte technique utilisé par l’API ; noter son identifiant et définir son mot de passe (à changer tous les 424 jours).',
        'Si demandés ci-dessous : dans l’application PISTE, onglet « Identifiants OAuth », copier le client_id et le client_secret.',
        'Saisir ci-dessous les valeurs demandées. Sesame obtient un jeton PISTE avec elles avant de les enregistrer.',
      ],
      en: [
        'The API connection goes through PISTE OAuth2: no certificate is needed.',
        "Sign in to Chorus Pro (qualification or production portal, per environment) with a manager account of the organisation.",
        '"Raccordements EDI et API" menu: open (or create) the technical account the API uses; note its login and set its password (to be changed every 424 days).',
        'If asked below: in the PISTE application, "OAuth credentials" tab, copy the client_id and client_secret.',
        'Enter the values asked below. Sesame obtains a PISTE token with them before storing them.',
      ],
    },
    mode: 'form',
    fields: [
      { name: 'account_login', label: { fr: 'Identifiant du compte technique Chorus Pro', en: 'Chorus Pro technical account login' }, type: 'text' },
      { name: 'account_password', label: { fr: 'Mot de passe du compte technique', en: 'Technical account password' }, type: 'secret' },
      { name: 'client_id', label: { fr: 'PISTE client_id', en: 'PISTE client_id' }, type: 'text' },
      { name: 'client_secret', label: { fr: 'PISTE client_secret', en: 'PISTE client_secret' }, type: 'secret' },
    ],
    requested: ['account_login', 'account_password'],
    settings: ['client_id', 'token_endpoint', 'scope', 'base_url'],
    // A new password starts its 424 days today.
    merge: (stored, submitted, { now }) => ({ ...stored, ...submitted, ...('account_password' in submitted ? { password_changed_at: now.toISOString() } : {}) }),
    check: true,
  },
});
