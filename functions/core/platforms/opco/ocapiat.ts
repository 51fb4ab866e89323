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
});
