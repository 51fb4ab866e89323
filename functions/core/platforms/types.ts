import type * as z from 'zod';
import type { Clock, HttpClient } from '../ports.ts';
import type { RetryPolicy } from '../oauth.ts';
import type { CertificateProfile, ProfileName } from '../certificates/profile.ts';
import type { Steps, Text } from '../text.ts';

export type Environment = 'production' | 'acceptance' | 'sandbox';
/** Who renews a platform's credentials (see Platform.renewedBy). */
export type RenewedBy = 'client' | 'integrator';

export const ENVIRONMENTS: readonly Environment[] = ['production', 'acceptance', 'sandbox'];

/** Fields that say where a credential's secrets (or the tokens they buy) are sent. */
export const ENDPOINT_SETTINGS: readonly string[] = ['token_endpoint', 'base_url'];

export interface PlatformContext {
  tenant: string;
  credential: string;
  environment: Environment;
  clock: Clock;
}

/** What a platform's own check of a credential may use: the network, and the tenant's public identifiers. */
export interface ProbeContext extends PlatformContext {
  http: HttpClient;
  retry: RetryPolicy;
  /** The tenant's registration numbers (an OPCO's key-information endpoint asks the SIREN). */
  tenantIds: { siren?: string; siret?: string; bce?: string };
}

/**
 * What a platform's check learned: the credential works (and perhaps its real end of
 * validity), or it cannot be checked and why. A refusal or an unreachable platform is
 * thrown as SesameError `upstream_rejected` / `upstream_unavailable`.
 */
export type PlatformProbe = { status: 'ok'; expiresAt?: Date; note: Text } | { status: 'not_testable'; reason: Text };

/** A date after which the credential stops working upstream. */
export interface Expiry {
  what: Text;
  at: Date;
}

/** The name of something that can expire, with a short English form for alert subjects. */
export interface ExpiryName extends Text {
  short: string;
}

/**
 * Names for alert subjects and the expiry report, readable without the secret: what a
 * credential's `sesame:expires-what` tag names is looked up here.
 */
export interface PlatformNames {
  /** The title shortened for an alert subject (`FLA`, `Chorus PISTE`). */
  short: string;
  /** Everything `expiries` can name, by a key fit for a tag value; the first is the usual one. */
  expiries: Readonly<Record<string, ExpiryName>>;
}

/** Headers that do not need a call upstream. */
export interface StaticMaterial {
  type: 'static';
  headers: Record<string, string>;
  baseUrl: string | null;
  expiresAt: Date | null;
}

/** An OAuth2 client_credentials exchange; the broker caches and retries it. */
export interface OAuthMaterial {
  type: 'oauth';
  tokenEndpoint: string;
  /** Called once per attempt, so that a signed assertion is never replayed. */
  form(): Promise<Record<string, string>>;
  headers(accessToken: string): Record<string, string>;
  baseUrl: string | null;
  /**
   * Tried by fetchToken when the token endpoint refuses this one (a 4xx): another key of
   * the same client while a rotation is in progress (FLA), so that a token request never
   * fails because of it. It may have a fallback of its own.
   */
  fallback?: OAuthMaterial;
  /**
   * Non-secret facts naming this material in the log line that says a fallback was used
   * (tenant, credential, which key): fetchToken knows nothing else about its caller.
   */
  logFields?: Readonly<Record<string, string>>;
}

export type Material = StaticMaterial | OAuthMaterial;

export interface AssertionMaterial {
  client_assertion: string;
  client_assertion_type: string;
  token_endpoint: string;
  expires_at: string;
}

/**
 * Everything Sesame knows about one platform. Adding a platform is one module
 * exporting one of these and one line in the registry.
 */
export interface Platform<F = unknown> {
  kind: string;
  title: Text;
  names: PlatformNames;
  environments: readonly Environment[];
  /** Strict schema of the secret body's `fields`. */
  schema: z.ZodType<F>;
  /** Field names whose values are secret: redacted wherever a record is shown. */
  secretFields: readonly string[];
  /** Normalises fields at registration (e.g. a lifetime into an end date); throws invalid_request. */
  prepare?(fields: F, ctx: PlatformContext): F;
  /** Dates after which something stops working, soonest not necessarily first. */
  expiries(fields: F, ctx: PlatformContext): Expiry[];
  /** What to send upstream; throws SesameError when the kind has nothing to vend. */
  material(fields: F, ctx: PlatformContext): Material;
  /**
   * Checks upstream that the credential works, without serving anything. Without it,
   * kinds whose material is OAuth are checked by obtaining a token (functions/core/probe.ts);
   * other kinds cannot be checked.
   */
  probe?(fields: F, ctx: ProbeContext): Promise<PlatformProbe>;
  /** Only for kinds that authenticate with a signed client assertion. */
  assertion?(fields: F, ctx: PlatformContext): Promise<AssertionMaterial>;
  /** How a person renews what expires, on that platform. */
  renewal: Steps;
  /**
   * Who renews what expires: `client` when the client organisation's own administrator
   * generates it on the platform (renewal alerts may then carry a connect link for it,
   * per the tenant's `connect_links_in_alerts`), `integrator` when the integrator does.
   */
  renewedBy: RenewedBy;
  /** The certificate rules of this platform, for the validator. */
  certificateProfiles?: readonly CertificateProfile[];
  /** Which profile an upload for this credential is checked against (fields absent: a placeholder). */
  certificateProfile?(fields: F | undefined): ProfileName;
  /** Merges an accepted certificate chain into the fields, for a new secret version. */
  acceptCertificate?(fields: F | undefined, accepted: AcceptedCertificate): F;
  /** What a client's own administrator is asked on a connect link, and that platform's steps. */
  connect?: ConnectSpec;
}

/** One input of a connect page; `name` is the credential's field name. */
export interface ConnectField {
  name: string;
  label: Text;
  /** `secret`: a password input, never echoed back; `file`: a certificate upload. */
  type: 'text' | 'secret' | 'number' | 'select' | 'file' | 'date';
  hint?: Text;
  options?: readonly { value: string; label: Text }[];
  min?: number;
  max?: number;
  /** Offered even when the operator did not ask for it (Ocapiat's lifetime). */
  optional?: boolean;
}

/** Who integrates Sesame's clients (SESAME_INTEGRATOR_NAME, SESAME_OPCO_EDITEUR…): named on connect pages, and the OPCO headers a client is never asked. */
export interface Integrator {
  name?: string;
  editeur?: string;
  logiciel?: string;
  version?: string;
}

export interface ConnectMergeContext {
  now: Date;
  integrator: Integrator;
}

/**
 * A connect link's page for one platform (DESIGN.md, "Console and connect links"): who
 * does it, the steps on the platform (from the source documents), the fields asked.
 */
export interface ConnectSpec {
  /** Who, at the client, does it (e.g. "the CFA's administrator on myAtlas"). */
  who: Text;
  steps: Steps;
  /** Shown prominently (Cegid: the key is shown only once). */
  warning?: Text;
  /** `form`: fields; `certificate`: a file judged by the certificate intake; `keygen`: Sesame makes the key pair (FLA). */
  mode: 'form' | 'certificate' | 'keygen';
  /** Every field the page may ask for; `requested` is what a link asks by default. */
  fields: readonly ConnectField[];
  requested: readonly string[];
  /**
   * Non-secret fields an operator may set when making a link (an OPCO's API address, a
   * PISTE client id…): never asked of the client, never a secret. Those among
   * ENDPOINT_SETTINGS say where secrets are sent: only an administrator (the CLI) may set
   * them, and never to replace a stored credential's own.
   */
  settings?: readonly string[];
  /** The submitted fields merged into the stored ones (default: stored, then submitted). */
  merge?(stored: Record<string, unknown>, submitted: Record<string, unknown>, context: ConnectMergeContext): Record<string, unknown>;
  /** Check the new fields upstream before storing them (functions/core/probe.ts): a token, an OPCO's key information. */
  check?: boolean;
}

export interface AcceptedCertificate {
  /** The chain as PEM, leaf first. */
  pem: string;
  sha256: string;
  notAfter: string;
}

/**
 * Erases the field type so platforms of every kind fit one registry. The schema is given
 * as a function and built at its first use: a function starts without building the
 * schemas of the sixteen kinds, of which it may never see most.
 */
export const definePlatform = <F>(p: Omit<Platform<F>, 'schema'> & { schema: () => z.ZodType<F> }): Platform<unknown> => {
  const { schema: build, ...rest } = p;
  let built: z.ZodType<F> | undefined;
  return Object.defineProperty(rest, 'schema', { get: () => (built ??= build()), enumerable: true }) as unknown as Platform<unknown>;
};

export { once } from '../once.ts';
