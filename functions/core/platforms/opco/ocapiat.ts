import { defineOpco } from './common.ts';

export default defineOpco({
  id: 'ocapiat',
  name: 'Ocapiat',
  maxLifetimeMonths: 6,
  renewal: {
    fr: [
      'Aller sur https://www.ocapiat.fr/ → « Mon espace Ocapiat » → « Organisme de formation ou CFA » → PartNet, et se connecter.',
      'Onglet « Interfaçage OCAPIAT ».',
      'Choisir la durée de vie de la clé en mois (6 au plus) puis « Générer ma clé CFA ».',
      'Attention : la nouvelle clé écrase la précédente immédiatement. Enregistrer la nouvelle clé dans Sesame sans délai (`sesame credential set` avec `lifetime_months`).',
    ],
    en: [
      'Go to https://www.ocapiat.fr/ → "Mon espace Ocapiat" → "Organisme de formation ou CFA" → PartNet, and sign in.',
      '"Interfaçage OCAPIAT" tab.',
      'Choose the key lifetime in months (6 at most), then "Générer ma clé CFA".',
      'Warning: the new key overwrites the previous one at once. Store the new key in Sesame straight away (`sesame credential set` with `lifetime_months`).',
    ],
  },
  connect: {
    who: { fr: 'l’administrateur du CFA sur PartNet (Ocapiat)', en: "the CFA's administrator on PartNet (Ocapiat)" },
    steps: {
      fr: [
        'Aller sur https://www.ocapiat.fr/ et cliquer sur « Mon espace Ocapiat ».',
        'Sélectionner « Organisme de formation ou CFA », puis cliquer sur « PartNet ».',
        'Se connecter avec l’identifiant (ex. OF11111.111) et le mot de passe du CFA. Sans identifiant, suivre les liens « Cliquez ici » des infos de connexion.',
        'Cliquer sur l’onglet « Interfaçage OCAPIAT ».',
        'Choisir la durée de vie de la clé en mois (6 mois au plus) puis cliquer sur « Générer ma clé CFA ». Attention : la nouvelle clé écrase la précédente.',
        'Cliquer sur « Afficher ma clé CFA », la copier et la coller ci-dessous avec la durée de vie choisie.',
      ],
      en: [
        'Go to https://www.ocapiat.fr/ and click "Mon espace Ocapiat".',
        'Select "Organisme de formation ou CFA", then click "PartNet".',
        "Sign in with the CFA's login (e.g. OF11111.111) and password. Without a login, follow the \"Cliquez ici\" links of the connection notes.",
        'Click the "Interfaçage OCAPIAT" tab.',
        'Choose the key lifetime in months (6 months at most), then click "Générer ma clé CFA". Warning: the new key overwrites the previous one.',
        'Click "Afficher ma clé CFA", copy it and paste it below with the lifetime you chose.',
      ],
    },
  },
});
