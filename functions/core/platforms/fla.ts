import type { KeyObject } from 'node:crypto';
import { SesameError } from '../errors.ts';
import type { Steps } from '../text.ts';
import * as z from 'zod';
import { algorithmFor, CLIENT_ASSERTION_TYPE, signClientAssertion, type AssertionAlg } from '../assertion.ts';
import { chainExpiries, parseCertificates } from '../x509.ts';
import { certificatePem, endpointUrl, loadPrivateKey, privateKeyPem, text } from './fields.ts';
import type { CertificateProfile } from '../certificates/profile.ts';
import { definePlatform, once, type Environment, type OAuthMaterial, type PlatformContext, type PlatformNames } from './types.ts';

/** Belgian CareerPro Federal Learning Account, socialsecurity.be (source doc 003). */

const TOKEN_ENDPOINTS: Partial<Record<Environment, string>> = {
  production: 'https://services.socialsecurity.be/REST/oauth/v5/token',
  acceptance: 'https://services-acpt.socialsecurity.be/REST/oauth/v5/token',
};
const BASE_URLS: Partial<Record<Environment, string>> = {
  production: 'https://services.socialsecurity.be/REST',
  acceptance: 'https://services-acpt.socialsecurity.be/REST',
};

/** Registering a certificate in Chaman (source doc 003 §4.4): what gives the client id. */
export const CHAMAN_STEPS: Steps = {
  fr: [
    'Se connecter à Chaman (socialsecurity.be → Entreprise → Chaman → gérer vos canaux techniques) avec CSAM (eID ou itsme), dans la qualité voulue (employeur, mandataire ou prestataire de formation).',
    'Créer un compte webservice REST (« Ajouter un compte Webservice », permission « CareerPro – Federal Learning Account – Déclaration ») ou ouvrir le compte existant, puis « Ajouter un certificat » : charger le fichier .cer (clé publique) et lui donner un nom.',
    'Valider, puis noter le Client ID affiché sur la ligne du compte (self_service_chaman_…).',
    'L’enregistrer dans Sesame : `echo \'{"client_id":"self_service_chaman_…"}\' | sesame credential set <tenant> <credential> --kind fla --merge`.',
  ],
  en: [
    'Sign in to Chaman (socialsecurity.be → Company → Chaman → manage your technical channels) with CSAM (eID or itsme), in the right capacity (employer, service provider or training provider).',
    'Create a REST web-service account ("Add a web-service account", permission "CareerPro – Federal Learning Account – Declaration") or open the existing one, then "Add a certificate": upload the .cer file (public key) and name it.',
    'Confirm, then note the Client ID shown on the account line (self_service_chaman_…).',
    'Store it in Sesame: `echo \'{"client_id":"self_service_chaman_…"}\' | sesame credential set <tenant> <credential> --kind fla --merge`.',
  ],
};

/**
 * Adding the next certificate to the same Chaman account (source doc 003 §4.4: "Ajouter
 * un certificat" on an existing REST account): both certificates stay valid together, so
 * the client id does not change and no token request fails while Sesame switches keys.
 */
export function chamanAddSteps(tenant: string, credential: string, clientId?: string): Steps {
  const account = clientId ? ` (Client ID ${clientId})` : '';
  return {
    fr: [
      'Se connecter à Chaman (socialsecurity.be → Entreprise → Chaman → gérer vos canaux techniques) avec CSAM (eID ou itsme), dans la qualité du compte (employeur, mandataire ou prestataire de formation).',
      `Ouvrir le compte webservice REST existant${account}, puis « Ajouter un certificat » : charger le nouveau fichier .cer et lui donner un nom. Ne pas supprimer l’ancien certificat : les deux restent valides ensemble, et le Client ID ne change pas.`,
      'Valider.',
      `Puis basculer Sesame sur la nouvelle clé : \`sesame fla activate ${tenant} ${credential}\` (Sesame obtient d’abord un jeton avec elle ; rien ne change s’il n’y arrive pas). L’ancienne clé reste en secours.`,
      `Une fois la bascule faite : \`sesame fla retire ${tenant} ${credential}\`, puis supprimer l’ancien certificat du compte dans Chaman.`,
    ],
    en: [
      'Sign in to Chaman (socialsecurity.be → Company → Chaman → manage your technical channels) with CSAM (eID or itsme), in the capacity of the account (employer, service provider or training provider).',
      `Open the existing REST web-service account${account}, then "Add a certificate": upload the new .cer file and name it. Do not delete the old certificate: both stay valid together, and the Client ID does not change.`,
      'Confirm.',
      `Then switch Sesame to the new key: \`sesame fla activate ${tenant} ${credential}\` (Sesame first obtains a token with it; nothing changes if it cannot). The old key stays as a fallback.`,
      `Once switched: \`sesame fla retire ${tenant} ${credential}\`, then delete the old certificate from the account in Chaman.`,
    ],
  };
}

/** Chaman's rules for the web-service certificate (source doc 003 §4.4.1): self-signed allowed. */
export const FLA_CERTIFICATE_PROFILE: CertificateProfile = {
  name: 'fla',
  platform: 'Chaman',
  keys: { rsa: [2048, 3072, 4096], ec: ['P-384', 'P-521'] },
  digests: ['SHA-256', 'SHA-384', 'SHA-512'],
  keyUsage: { all: ['digitalSignature'] },
  requireChain: false,
};

// Labels built from parts so that secret scanners do not take them for keys.
const PEM_BEGIN = `-----${'BEGIN'} `;
const LEGACY_KEY = [`${PEM_BEGIN}RSA ${'PRIVATE'} KEY-----`, `${PEM_BEGIN}EC ${'PRIVATE'} KEY-----`];
const ENCRYPTED_KEY = `${PEM_BEGIN}ENCRYPTED ${'PRIVATE'} KEY-----`;

/** Its schemas, built at the first FLA credential read or checked (definePlatform). */
const schemas = once(() => {
  /** A PKCS#8 key; a PKCS#1 / SEC1 or encrypted key is refused with the command that converts it. */
  const flaPrivateKey = z.string().superRefine((v, ctx) => {
    if (privateKeyPem().safeParse(v).success) return;
    if (LEGACY_KEY.some((h) => v.includes(h))) {
      ctx.addIssue({ code: 'custom', message: 'is a PKCS#1 (RSA) or SEC1 (EC) key: convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`' });
    } else if (v.includes(ENCRYPTED_KEY)) {
      ctx.addIssue({ code: 'custom', message: 'is an encrypted PKCS#8 key: store it unencrypted (the secret store encrypts it) with `openssl pkcs8 -in key.pem -out key-pkcs8.pem`' });
    } else {
      ctx.addIssue({ code: 'custom', message: 'must be an unencrypted PKCS#8 private key in PEM form' });
    }
  });

  const ALG = z.enum(['RS256', 'PS256', 'ES384', 'ES512']);
  const SHA256 = z.string().regex(/^[0-9a-f]{64}$/);
  const TIME = z.string().refine((v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/.test(v) && !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 UTC time' });

  /**
   * Another key pair of the same Chaman account, during a rotation (functions/core/rotation.ts):
   * `next` is made by `sesame fla keygen --next` and signs nothing until `sesame fla activate`
   * (a fallback only); `previous` is the key activation replaced, the fallback until `sesame fla retire`.
   */
  const nextKey = z.strictObject({
    private_key: flaPrivateKey,
    // Required: Chaman must be given it before the key can be activated.
    certificate: certificatePem(),
    certificate_sha256: SHA256.optional(),
    alg: ALG.optional(),
    kid: text(256).optional(),
    created_at: TIME,
  });
  const previousKey = z.strictObject({
    private_key: flaPrivateKey,
    certificate: certificatePem().optional(),
    certificate_sha256: SHA256.optional(),
    alg: ALG.optional(),
    kid: text(256).optional(),
    created_at: TIME.optional(),
    /** When `sesame fla activate` made it the previous key. */
    replaced_at: TIME,
  });

  const schema = z
    .strictObject({
      // Absent between `sesame fla keygen` and registration in Chaman, which issues it.
      client_id: text(256).optional(),
      private_key: flaPrivateKey,
      certificate: certificatePem().optional(),
      quality: z.enum(['employer', 'provider', 'training-provider']),
      token_endpoint: endpointUrl().optional(),
      scope: text(1024).optional(),
      alg: ALG.optional(),
      kid: text(256).optional(),
      assertion_ttl: z.number().int().min(30).max(600).optional(),
      base_url: endpointUrl().optional(),
      certificate_sha256: SHA256.optional(),
      next: nextKey.optional(),
      previous: previousKey.optional(),
    })
    .superRefine((f, ctx) => {
      checkKeyPair(f, [], ctx);
      if (f.next) {
        checkKeyPair(f.next, ['next'], ctx);
        if (f.next.private_key === f.private_key) ctx.addIssue({ code: 'custom', path: ['next', 'private_key'], message: 'is the active key: a rotation needs a new key pair' });
      }
      if (f.previous) checkKeyPair(f.previous, ['previous'], ctx);
    });
  return { schema, nextKey, previousKey };
});

/** What signs an assertion: the active key's fields, or a next or previous key's. */
interface KeyFields {
  private_key: string;
  certificate?: string | undefined;
  alg?: AssertionAlg | undefined;
  kid?: string | undefined;
}

/** Chaman's key rules, and the certificate (when given) of that very key. */
function checkKeyPair(f: KeyFields, path: string[], ctx: z.RefinementCtx) {
  const key = loadPrivateKey(f.private_key);
  if (!key) return;
  if (!algorithmFor(key)) {
    ctx.addIssue({ code: 'custom', path: [...path, 'private_key'], message: 'must be an RSA (2048, 3072 or 4096 bits) or EC P-384/P-521 key, as Chaman requires' });
    return;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType === 'rsa' && bits !== 2048 && bits !== 3072 && bits !== 4096) {
    ctx.addIssue({ code: 'custom', path: [...path, 'private_key'], message: `RSA key of ${bits} bits: Chaman accepts 2048, 3072 or 4096` });
  }
  if (f.alg && !algorithmFor(key, f.alg)) {
    ctx.addIssue({ code: 'custom', path: [...path, 'alg'], message: `${f.alg} does not fit a ${key.asymmetricKeyType} key` });
  }
  if (f.certificate) {
    const leaf = parseCertificates(f.certificate)[0];
    if (leaf && !leaf.certificate.checkPrivateKey(key)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'certificate'], message: `does not match ${[...path, 'private_key'].join('.')} (another key pair)` });
    }
  }
}

export type FlaFields = z.infer<ReturnType<typeof schemas>['schema']>;
export type FlaNextKey = z.infer<ReturnType<typeof schemas>['nextKey']>;
export type FlaPreviousKey = z.infer<ReturnType<typeof schemas>['previousKey']>;

// Importing a key costs far more than signing with it: keep one per secret body (and per rotation key in it).
const keys = new WeakMap<KeyFields, { key: KeyObject; alg: AssertionAlg }>();

function signingKey(f: KeyFields): { key: KeyObject; alg: AssertionAlg } {
  let entry = keys.get(f);
  if (!entry) {
    const key = loadPrivateKey(f.private_key);
    const alg = key && algorithmFor(key, f.alg);
    if (!key || !alg) throw new Error('fla private key failed validation after parsing');
    entry = { key, alg };
    keys.set(f, entry);
  }
  return entry;
}

/** When a rotation key's certificate chain lapses (ms), parsed once per key; Infinity without a certificate. */
const lapses = new WeakMap<KeyFields, number>();

function lapsesAt(f: KeyFields): number {
  let at = lapses.get(f);
  if (at === undefined) {
    at = chainExpiries(f.certificate, NAMES.expiries.certificate, NAMES.expiries.chain).reduce((min, e) => Math.min(min, e.at.getTime()), Number.POSITIVE_INFINITY);
    lapses.set(f, at);
  }
  return at;
}

const tokenEndpoint = (f: FlaFields, ctx: PlatformContext): string =>
  f.token_endpoint ?? TOKEN_ENDPOINTS[ctx.environment] ?? (TOKEN_ENDPOINTS.production as string);

function clientId(f: FlaFields, ctx: PlatformContext): string {
  if (!f.client_id) {
    throw new SesameError('credential_incomplete', `credential "${ctx.credential}" of tenant "${ctx.tenant}" has no client_id yet: register its certificate in Chaman, then add the client id with \`sesame credential set --merge\``, {
      details: { tenant: ctx.tenant, credential: ctx.credential },
    });
  }
  return f.client_id;
}

/** A client assertion signed by `k` (the active key unless given): every key of a rotation shares the account's client id. */
async function assertion(f: FlaFields, ctx: PlatformContext, k: KeyFields = f) {
  const id = clientId(f, ctx);
  const { key, alg } = signingKey(k);
  const endpoint = tokenEndpoint(f, ctx);
  const signed = await signClientAssertion({
    key,
    alg,
    clientId: id,
    audience: endpoint,
    now: ctx.clock.now(),
    ...(f.assertion_ttl ? { ttlSeconds: f.assertion_ttl } : {}),
    ...(k.kid ? { kid: k.kid } : {}),
  });
  return { jwt: signed.jwt, expiresAt: signed.expiresAt, endpoint };
}

function oauthMaterial(f: FlaFields, ctx: PlatformContext, k: KeyFields): OAuthMaterial {
  return {
    type: 'oauth',
    tokenEndpoint: tokenEndpoint(f, ctx),
    baseUrl: f.base_url ?? BASE_URLS[ctx.environment] ?? null,
    async form() {
      const { jwt } = await assertion(f, ctx, k);
      // No client_id: the portal identifies the client from the assertion alone.
      return {
        grant_type: 'client_credentials',
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: jwt,
        ...(f.scope ? { scope: f.scope } : {}),
      };
    },
    headers: (token) => ({ Authorization: `Bearer ${token}` }),
  };
}

/**
 * The active key's material. While a rotation is in progress, the keys registered on the
 * same Chaman account back it up, in this order: the previous key (Chaman may not have
 * taken the new certificate everywhere yet), then the next key (the old certificate was
 * replaced in Chaman rather than joined by the new one). A key whose certificate has
 * lapsed is left out: Chaman would refuse it.
 */
function materialWithFallbacks(f: FlaFields, ctx: PlatformContext): OAuthMaterial {
  const active = oauthMaterial(f, ctx, f);
  if (!f.previous && !f.next) return active;
  const now = ctx.clock.now().getTime();
  const about = (key: string) => ({ tenant: ctx.tenant, credential: ctx.credential, key });
  let chain: OAuthMaterial | undefined;
  // Built from the last resort up, each backup falling back on the one after it.
  for (const [name, k] of [['next', f.next], ['previous', f.previous]] as const) {
    if (k && lapsesAt(k) > now) chain = { ...oauthMaterial(f, ctx, k), logFields: about(name), ...(chain ? { fallback: chain } : {}) };
  }
  if (!chain) return active;
  return { ...active, logFields: about('active'), fallback: chain };
}

const NAMES = {
  short: 'FLA',
  expiries: {
    certificate: { fr: 'certificat Chaman', en: 'Chaman certificate', short: 'FLA certificate' },
    chain: { fr: 'chaîne du certificat Chaman', en: 'Chaman certificate chain', short: 'FLA cert chain' },
  },
} satisfies PlatformNames;

export default definePlatform<FlaFields>({
  kind: 'fla',
  title: { fr: 'Federal Learning Account (CareerPro, sécurité sociale belge)', en: 'Federal Learning Account (CareerPro, Belgian social security)' },
  names: NAMES,
  environments: ['production', 'acceptance'],
  schema: () => schemas().schema,
  // `next` and `previous` whole: redaction replaces top-level fields only, and each holds a private key.
  secretFields: ['private_key', 'next', 'previous'],
  // The active certificate only: a next one matters once activated (activation checks it
  // then), a previous one is a fallback whose lapse only ends the fallback.
  expiries: (f) => chainExpiries(f.certificate, NAMES.expiries.certificate, NAMES.expiries.chain),
  material(f, ctx) {
    clientId(f, ctx);
    return materialWithFallbacks(f, ctx);
  },
  async assertion(f, ctx) {
    const { jwt, expiresAt, endpoint } = await assertion(f, ctx);
    return {
      client_assertion: jwt,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      token_endpoint: endpoint,
      expires_at: expiresAt.toISOString(),
    };
  },
  certificateProfiles: [FLA_CERTIFICATE_PROFILE],
  certificateProfile: () => 'fla',
  acceptCertificate(f, accepted) {
    if (!f) throw new SesameError('credential_incomplete', 'an FLA certificate needs the credential first: store its client_id, private_key and quality with `sesame credential set` (or `sesame fla keygen`)');
    return { ...f, certificate: accepted.pem, certificate_sha256: accepted.sha256 };
  },
  // The client certificate is registered in Chaman by the employer's own administrator.
  renewedBy: 'client',
  renewal: {
    fr: [
      'Générer la prochaine paire de clés et son certificat à côté de la clé active (RSA 2048/3072/4096 ou EC P-384/P-521, SHA-256/384/512, usage Digital Signature) : `sesame fla keygen --next <tenant> <credential>`.',
      ...chamanAddSteps('<tenant>', '<credential>').fr,
    ],
    en: [
      'Generate the next key pair and its certificate beside the active key (RSA 2048/3072/4096 or EC P-384/P-521, SHA-256/384/512, key usage Digital Signature): `sesame fla keygen --next <tenant> <credential>`.',
      ...chamanAddSteps('<tenant>', '<credential>').en,
    ],
  },
  connect: {
    who: { fr: 'un utilisateur ayant accès à Chaman (gestionnaire local de la qualité voulue)', en: 'a user with access to Chaman (the local manager of the capacity concerned)' },
    steps: {
      fr: [
        'Télécharger ci-dessous le certificat (.cer) que Sesame a généré pour vous : c’est la partie publique ; la clé privée reste dans Sesame.',
        'Se connecter à Chaman (socialsecurity.be → Entreprise → Chaman → gérer vos canaux techniques), public cible « Entreprise », avec CSAM (eID, itsme…), dans la qualité voulue : Employeur ONSS, Secrétariat social ou Prestataire de service (mandataire), ou Prestataire de formation. Sans accès, demandez à votre gestionnaire local la « Gestion des canaux techniques ».',
        'Nouveau compte : « Ajouter un compte Webservice », type « REST », un nom de compte, cocher « CareerPro – Federal Learning Account – Déclaration », charger le fichier .cer dans « Certificat » et lui donner un nom, puis « Valider ».',
        'Compte REST existant : l’ouvrir, « Ajouter un certificat », charger le fichier .cer, vérifier que « CareerPro – Federal Learning Account – Déclaration » est cochée dans les permissions sécurisées, puis « Valider ».',
        'Copier le Client ID affiché sur la ligne du compte (self_service_…) et le coller ci-dessous. Sesame obtient un jeton avec lui avant de l’enregistrer.',
      ],
      en: [
        'Download below the certificate (.cer) Sesame generated for you: it is the public part; the private key stays in Sesame.',
        'Sign in to Chaman (socialsecurity.be → Company → Chaman → manage your technical channels), target audience "Company", with CSAM (eID, itsme…), in the right capacity: NSSO employer, social secretariat or service provider (mandataire), or training provider. Without access, ask your local manager for "technical channel management".',
        'New account: "Add a web-service account", type "REST", an account name, tick "CareerPro – Federal Learning Account – Declaration", upload the .cer file as "Certificate" and name it, then "Confirm".',
        'Existing REST account: open it, "Add a certificate", upload the .cer file, check that "CareerPro – Federal Learning Account – Declaration" is ticked in the secured permissions, then "Confirm".',
        'Copy the Client ID shown on the account line (self_service_…) and paste it below. Sesame obtains a token with it before storing it.',
      ],
    },
    mode: 'keygen',
    fields: [
      { name: 'client_id', label: { fr: 'Client ID donné par Chaman', en: 'Client ID given by Chaman' }, type: 'text', hint: { fr: 'Par exemple self_service_chaman_12345678912', en: 'For example self_service_chaman_12345678912' } },
      {
        name: 'quality',
        label: { fr: 'Qualité du compte dans Chaman', en: 'Capacity of the account in Chaman' },
        type: 'select',
        options: [
          { value: 'employer', label: { fr: 'Employeur', en: 'Employer' } },
          { value: 'provider', label: { fr: 'Mandataire (secrétariat social, prestataire de service)', en: 'Mandataire (social secretariat, service provider)' } },
          { value: 'training-provider', label: { fr: 'Prestataire de formation', en: 'Training provider' } },
        ],
      },
    ],
    requested: ['client_id'],
    settings: ['quality', 'token_endpoint', 'base_url'],
    check: true,
  },
});
