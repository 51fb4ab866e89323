import { defineOpco } from './common.ts';

export default defineOpco({
  id: 'opcommerce',
  name: "L'Opcommerce",
  renewal: {
    fr: [
      'Se connecter au portail Web Services Partenaire de L’Opcommerce avec les identifiants (email / mot de passe) du CFA.',
      'Menu en haut à droite → « Accrochage API ».',
      'Cliquer sur « Générer une nouvelle clé d’API » et copier la clé affichée.',
      'Enregistrer la clé dans Sesame (`sesame credential set`). Support : supportapi@lopcommerce.com.',
    ],
    en: [
      "Sign in to L'Opcommerce Web Services Partenaire portal with the CFA's credentials (email / password).",
      'Menu at the top right → "Accrochage API".',
      'Click "Générer une nouvelle clé d\'API" and copy the key shown.',
      'Store the key in Sesame (`sesame credential set`). Support: supportapi@lopcommerce.com.',
    ],
  },
});
