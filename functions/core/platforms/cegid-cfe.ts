import { z } from 'zod';
import { endpointUrl, headerName, isoDate, text } from './fields.ts';
import { definePlatform, type PlatformNames } from './types.ts';

/** Cegid File Exchange (source doc 001): key id + secret, shown once, revocable. */

const DEFAULT_HEADERS = { 'x-apikey': '{id}:{secret}' };

const schema = z.strictObject({
  api_key_id: text(256),
  api_key_secret: text(1024),
  // How CFE receives the key is not public: the header map stays configurable.
  headers: z.record(headerName, z.string().min(1).max(2048)).optional(),
  review_at: isoDate.optional(),
  base_url: endpointUrl.optional(),
});
type CegidFields = z.infer<typeof schema>;

const NAMES = {
  short: 'Cegid CFE',
  expiries: {
    'review-date': { fr: 'date de revue de la clé d’API Cegid', en: 'Cegid API key review date', short: 'Cegid review date' },
  },
} satisfies PlatformNames;

export default definePlatform<CegidFields>({
  kind: 'cegid-cfe',
  title: { fr: 'Cegid File Exchange', en: 'Cegid File Exchange' },
  names: NAMES,
  environments: ['production'],
  schema,
  secretFields: ['api_key_secret', 'headers'],
  expiries(f) {
    return f.review_at ? [{ what: NAMES.expiries['review-date'], at: new Date(f.review_at) }] : [];
  },
  material(f) {
    const headers: Record<string, string> = {};
    for (const [name, template] of Object.entries(f.headers ?? DEFAULT_HEADERS)) {
      headers[name] = template.replaceAll('{id}', f.api_key_id).replaceAll('{secret}', f.api_key_secret);
    }
    return { type: 'static', headers, baseUrl: f.base_url ?? null, expiresAt: null };
  },
  renewal: {
    fr: [
      'Un administrateur du compte Cegid Life se connecte à https://www.cegidlife.com/ (compte administrateur cabinet, code SIC).',
      'Administration → Gestion des utilisateurs → Clés d’API → « Générer une clé d’API ».',
      'Choisir le service « Cegid File Exchange », nommer la clé, « Générer la clé d’API ».',
      'Copier tout de suite la clé et son secret : ils ne seront plus jamais affichés. Les enregistrer dans Sesame (`sesame credential set`).',
      'Révoquer l’ancienne clé (… → Révoquer) une fois la nouvelle en service.',
    ],
    en: [
      'A Cegid Life account administrator signs in at https://www.cegidlife.com/ (firm administrator account, SIC code).',
      'Administration → User management → API keys → "Generate an API key".',
      'Pick the "Cegid File Exchange" service, name the key, "Generate the API key".',
      'Copy the key and its secret at once: they are never shown again. Store them in Sesame (`sesame credential set`).',
      'Revoke the old key (… → Revoke) once the new one is in use.',
    ],
  },
  connect: {
    who: { fr: 'un administrateur du compte Cegid Life du cabinet', en: "an administrator of the firm's Cegid Life account" },
    steps: {
      fr: [
        'Se connecter à Cegid Life (https://www.cegidlife.com/) avec le compte administrateur cabinet (code SIC) et vos identifiants passeport.',
        'Cliquer sur « Administration » puis « Gestion des utilisateurs ».',
        'Sélectionner « Clés d’API », puis cliquer sur « GÉNÉRER UNE CLÉ D’API ».',
        'Choisir le service « Cegid File Exchange » dans la liste, donner un nom à la clé, puis « Générer la clé d’API ».',
        'Copier « Votre clé d’API » et « Secret de la clé d’API » avec leurs boutons et les coller ci-dessous avant de cliquer sur « Terminer ».',
      ],
      en: [
        'Sign in to Cegid Life (https://www.cegidlife.com/) with the firm administrator account (SIC code) and your passport credentials.',
        'Click "Administration", then "Gestion des utilisateurs" (user management).',
        'Select "Clés d\'API" (API keys), then click "GÉNÉRER UNE CLÉ D\'API".',
        'Pick the "Cegid File Exchange" service in the list, name the key, then "Générer la clé d\'API".',
        'Copy "Votre clé d\'API" (the key) and "Secret de la clé d\'API" (its secret) with their buttons and paste them below before clicking "Terminer".',
      ],
    },
    warning: {
      fr: 'Cegid n’affiche la clé et son secret qu’une seule fois : ils ne seront plus visibles après avoir quitté ou rafraîchi la page Cegid. Gardez-la ouverte jusqu’à la confirmation ici.',
      en: 'Cegid shows the key and its secret only once: they cannot be seen again once the Cegid page is left or refreshed. Keep it open until this page confirms.',
    },
    mode: 'form',
    fields: [
      { name: 'api_key_id', label: { fr: 'Clé d’API (identifiant)', en: 'API key (id)' }, type: 'text' },
      { name: 'api_key_secret', label: { fr: 'Secret de la clé d’API', en: 'API key secret' }, type: 'secret' },
    ],
    requested: ['api_key_id', 'api_key_secret'],
  },
});
