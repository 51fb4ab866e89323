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
  connect: {
    who: { fr: 'l’administrateur du CFA sur le portail Web Services Partenaire de L’Opcommerce', en: "the CFA's administrator on L'Opcommerce Web Services Partenaire portal" },
    steps: {
      fr: [
        'Se connecter au portail Web Services Partenaire (https://partenaire.loppcommerce.com/) avec l’email et le mot de passe du CFA. Sans compte : « Créer un Compte » ; en cas de difficulté : « Besoin d’aide pour vous connecter ? ».',
        'Une fois connecté, cliquer sur « Accrochage API » dans le menu en haut à droite.',
        'Cliquer sur le bouton vert « Générer une nouvelle clé d’API ».',
        'La clé s’affiche dans le bloc du bas : la copier avec le bouton bleu et la coller ci-dessous.',
        'En cas de problème sur le portail : supportapi@lopcommerce.com.',
      ],
      en: [
        "Sign in to the Web Services Partenaire portal (https://partenaire.loppcommerce.com/) with the CFA's email and password. Without an account: \"Créer un Compte\"; if you have trouble: \"Besoin d'aide pour vous connecter ?\".",
        'Once signed in, click "Accrochage API" in the menu at the top right.',
        'Click the green "Générer une nouvelle clé d\'API" button.',
        'The key appears in the bottom block: copy it with the blue button and paste it below.',
        'For a problem on the portal: supportapi@lopcommerce.com.',
      ],
    },
  },
});
