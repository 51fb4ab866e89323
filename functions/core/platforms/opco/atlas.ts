import { defineOpco } from './common.ts';

export default defineOpco({
  id: 'atlas',
  name: 'Atlas',
  renewal: {
    fr: [
      'Se connecter à myAtlas (https://myatlas.opco-atlas.fr/) avec le compte utilisateur du CFA.',
      'Sélectionner « myAtlas prestataire ».',
      'Menu utilisateur en haut à droite → « Mes paramètres » → section « Ma clé CFA » ; copier la clé.',
      'Enregistrer la clé dans Sesame (`sesame credential set`). Support : webassistance@opco-atlas.fr.',
    ],
    en: [
      'Sign in to myAtlas (https://myatlas.opco-atlas.fr/) with the CFA user account.',
      'Select "myAtlas prestataire".',
      'User menu at the top right → "Mes paramètres" → "Ma clé CFA" section; copy the key.',
      'Store the key in Sesame (`sesame credential set`). Support: webassistance@opco-atlas.fr.',
    ],
  },
});
