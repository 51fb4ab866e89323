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
  connect: {
    who: { fr: 'l’administrateur du CFA sur myAtlas', en: "the CFA's administrator on myAtlas" },
    steps: {
      fr: [
        'Se connecter aux services en ligne myAtlas (https://myatlas.opco-atlas.fr/) avec le compte utilisateur et le mot de passe du CFA, puis « Connexion ». Sans compte : « Créer un compte ».',
        'Sélectionner « myAtlas prestataire ».',
        'Dans le menu utilisateur en haut à droite, sélectionner « Mes paramètres ».',
        'La clé CFA est dans la section « Ma clé CFA » : cliquer sur « Copier dans le presse-papier » et la coller ci-dessous.',
        'En cas de problème sur myAtlas : webassistance@opco-atlas.fr.',
      ],
      en: [
        'Sign in to the myAtlas online services (https://myatlas.opco-atlas.fr/) with the CFA user account and password, then "Connexion". Without an account: "Créer un compte".',
        'Select "myAtlas prestataire".',
        'In the user menu at the top right, select "Mes paramètres".',
        'The CFA key is in the "Ma clé CFA" section: click "Copier dans le presse-papier" and paste it below.',
        'For a problem on myAtlas: webassistance@opco-atlas.fr.',
      ],
    },
  },
});
