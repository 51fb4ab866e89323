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
});
