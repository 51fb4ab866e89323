import * as z from 'zod';
import { SesameError } from '../errors.ts';
import { chainExpiries } from '../x509.ts';
import { certificatePem } from './fields.ts';
import type { CertificateProfile } from '../certificates/profile.ts';
import { definePlatform, type PlatformNames } from './types.ts';

/** Chorus Pro EDI / certificate connections (source doc 002): tracked, nothing to vend. */

/** Source doc 002: RGS* certificates with their complete chain, client XOR server, no persons. */
const CHORUS_BASE = {
  platform: 'Chorus Pro',
  keys: { rsa: { min: 2048 }, ec: ['P-256', 'P-384', 'P-521'] },
  digests: ['SHA-256', 'SHA-384', 'SHA-512'],
  requireChain: true,
  // Chorus Pro wants a chain from a qualified (RGS*) CA: the anchors are the operator's bundle of those CAs.
  trustAnchors: true,
  refusePersons: true,
  // DESIGN.md: "TEST" in a name, in capitals, as test CAs write it ("AC TEST").
  testCertificates: { namePattern: /\bTEST\b/ },
  policyAllowList: { levels: 'RGS*' },
} as const;

export const CHORUS_CERTIFICATE_PROFILES: readonly CertificateProfile[] = [
  { ...CHORUS_BASE, name: 'chorus-client', keyUsage: { all: ['digitalSignature'] }, extendedKeyUsage: 'clientAuth' },
  { ...CHORUS_BASE, name: 'chorus-server', keyUsage: { all: ['digitalSignature', 'keyEncipherment'] }, extendedKeyUsage: 'serverAuth' },
  // The "cachet serveur" that signs flows.
  { ...CHORUS_BASE, name: 'chorus-signature', keyUsage: { any: ['digitalSignature', 'nonRepudiation'] } },
];

const schema = () =>
  z.strictObject({
  /** Which certificate this credential tracks: SSL client, SSL server, or the signing seal. */
  usage: z.enum(['client', 'server', 'signature']).default('client'),
  certificate: certificatePem().optional(),
  certificate_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
type EdiFields = z.infer<ReturnType<typeof schema>>;

const NAMES = {
  short: 'Chorus EDI',
  expiries: {
    certificate: { fr: 'certificat Chorus Pro', en: 'Chorus Pro certificate', short: 'Chorus certificate' },
    chain: { fr: 'chaîne du certificat Chorus Pro', en: 'Chorus Pro certificate chain', short: 'Chorus cert chain' },
  },
} satisfies PlatformNames;

export default definePlatform<EdiFields>({
  kind: 'chorus-edi',
  title: { fr: 'Chorus Pro (EDI, connexion par certificat)', en: 'Chorus Pro (EDI, certificate connection)' },
  names: NAMES,
  environments: ['production', 'sandbox'],
  schema,
  secretFields: [],
  expiries: (f) => chainExpiries(f.certificate, NAMES.expiries.certificate, NAMES.expiries.chain),
  certificateProfiles: CHORUS_CERTIFICATE_PROFILES,
  certificateProfile: (f) => (f?.usage === 'server' ? 'chorus-server' : f?.usage === 'signature' ? 'chorus-signature' : 'chorus-client'),
  acceptCertificate: (f, accepted) => ({ usage: f?.usage ?? 'client', certificate: accepted.pem, certificate_sha256: accepted.sha256 }),
  material() {
    throw new SesameError('invalid_request', 'chorus-edi credentials have nothing to vend: Sesame tracks the certificate for validity and expiry only');
  },
  // An RGS* certificate for the structure's own EDI connection (PeSIT/AS2/SFTP), declared in
  // its Chorus Pro space; Sesame holds its public part only, the private key stays with the
  // organisation that runs the connection and orders the certificate (PROVIDERS.md, Chorus Pro).
  renewedBy: 'client',
  renewal: {
    fr: [
      'Commander le nouveau certificat (niveau RGS* au moins, autorité de la liste LSTI / liste de confiance européenne), de même type (SSL Client et/ou SSL Serveur) que l’actuel.',
      'L’exporter en PKCS#7 (.p7b) avec la chaîne complète, partie publique seulement.',
      'Le déposer dans Sesame (`sesame cert upload`) pour vérification, puis dans Chorus Pro, menu « Raccordements EDI et API ».',
      'Prévoir 2 à 24 heures avant sa prise en compte par Chorus Pro : renouveler bien avant l’échéance.',
    ],
    en: [
      'Order the new certificate (RGS* level at least, from a CA of the LSTI / EU trusted list), of the same type (SSL Client and/or SSL Server) as the current one.',
      'Export it as PKCS#7 (.p7b) with the complete chain, public part only.',
      'Upload it to Sesame (`sesame cert upload`) to check it, then to Chorus Pro, "Raccordements EDI et API" menu.',
      'Allow 2 to 24 hours before Chorus Pro takes it into account: renew well before the deadline.',
    ],
  },
  connect: {
    who: { fr: 'le responsable des raccordements Chorus Pro de la structure', en: "the organisation's person in charge of Chorus Pro connections" },
    steps: {
      fr: [
        'Le certificat vient d’une autorité de la liste de confiance européenne (TSL), de niveau RGS* au moins : SSL Client (authentification serveur de type client) et/ou SSL Serveur selon le raccordement (PeSIT, AS2, SFTP).',
        'L’exporter au format PKCS#7 (.p7b) avec toute la chaîne de certification : dans l’assistant d’exportation, choisir « Non, ne pas exporter la clé privée », puis « Standard de syntaxe de message de chiffrement – Certificats PKCS #7 (.p7b) » et cocher « Inclure tous les certificats dans le chemin d’accès de certification, si possible ».',
        'Déposer le fichier ci-dessous : il est vérifié aussitôt et le rapport s’affiche. Un fichier refusé ne change rien ; corrigez-le et déposez-le de nouveau.',
        'Chorus Pro met 2 à 24 heures à prendre en compte un nouveau certificat : le renouveler bien avant l’échéance.',
      ],
      en: [
        'The certificate comes from a CA of the European trusted list (TSL), RGS* level at least: SSL Client (client-type server authentication) and/or SSL Server depending on the connection (PeSIT, AS2, SFTP).',
        'Export it as PKCS#7 (.p7b) with the complete certification chain: in the export wizard, choose "No, do not export the private key", then "Cryptographic Message Syntax Standard – PKCS #7 Certificates (.p7b)" and tick "Include all certificates in the certification path if possible".',
        'Upload the file below: it is checked at once and the report is shown. A refused file changes nothing; fix it and upload it again.',
        'Chorus Pro takes 2 to 24 hours to take a new certificate into account: renew well before the deadline.',
      ],
    },
    warning: { fr: 'Ne déposez jamais la clé privée : seulement la partie publique (.p7b).', en: 'Never upload the private key: the public part only (.p7b).' },
    mode: 'certificate',
    fields: [{ name: 'certificate', label: { fr: 'Fichier du certificat (.p7b, .cer, .pem)', en: 'Certificate file (.p7b, .cer, .pem)' }, type: 'file' }],
    requested: ['certificate'],
  },
});
