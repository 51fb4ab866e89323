import * as z from 'zod';
import { SesameError } from '../../errors.ts';
import type { Steps, Text } from '../../text.ts';
import { addMonths, endpointUrl, headerName, isoDate, parseEndOfValidity, text } from '../fields.ts';
import { definePlatform, type ConnectField, type ConnectSpec, type ExpiryName, type Platform, type PlatformNames, type PlatformProbe, type ProbeContext } from '../types.ts';

/**
 * The Convergence CFA/OPCO API (source doc 000): one CFA_KEY per (CFA, OPCO), sent as
 * `X-API-KEY` with fixed EDITEUR / LOGICIEL / VERSION headers. What differs between
 * OPCOs (name, how to get a key, key lifetime) is declared in one file per OPCO.
 */
export interface OpcoDefinition {
  /** The kind suffix: `opco-<id>`. */
  id: string;
  name: string;
  /** When the OPCO caps a key's lifetime (Ocapiat: 6 months, chosen at generation). */
  maxLifetimeMonths?: number;
  renewal?: Steps;
  /** The steps a CFA's administrator follows to hand the key over on a connect link (source doc 000). */
  connect?: { who: Text; steps: Steps };
}

const GENERIC_RENEWAL = (name: string): Steps => ({
  fr: [
    `La procédure d’obtention de la clé CFA n’est pas publiée pour ${name} : la demander à l’OPCO (extranet CFA ou support API).`,
    'Enregistrer la nouvelle clé et sa date de fin de validité dans Sesame (`sesame credential set`, champs `cfa_key` et `expires_at`).',
  ],
  en: [
    `How to obtain the CFA key is not published for ${name}: ask the OPCO (CFA extranet or API support).`,
    'Store the new key and its end of validity in Sesame (`sesame credential set`, fields `cfa_key` and `expires_at`).',
  ],
});

const GENERIC_CONNECT = (name: string): { who: Text; steps: Steps } => ({
  who: { fr: `l’administrateur du CFA sur l’extranet ${name}`, en: `the CFA's administrator on the ${name} extranet` },
  steps: {
    fr: [
      `${name} n’a pas publié sa procédure d’obtention de la clé CFA : la demander à l’OPCO (extranet CFA ou support API).`,
      'Copier la clé CFA reçue et la coller ci-dessous.',
    ],
    en: [`${name} has not published how to obtain the CFA key: ask the OPCO for it (CFA extranet or API support).`, 'Copy the CFA key you receive and paste it below.'],
  },
});

/** The OPCO's connect page: the key (and, where the OPCO caps it, its lifetime); EDITEUR/LOGICIEL/VERSION are never asked. */
function opcoConnect(def: OpcoDefinition): ConnectSpec {
  const page = def.connect ?? GENERIC_CONNECT(def.name);
  const fields: ConnectField[] = [{ name: 'cfa_key', label: { fr: `Clé CFA ${def.name}`, en: `${def.name} CFA key` }, type: 'secret' }];
  if (def.maxLifetimeMonths) {
    fields.push({
      name: 'lifetime_months',
      label: { fr: 'Durée de vie choisie pour la clé (mois)', en: 'Lifetime chosen for the key (months)' },
      hint: { fr: `La durée choisie à la génération, ${def.maxLifetimeMonths} mois au plus.`, en: `The lifetime chosen when generating it, ${def.maxLifetimeMonths} months at most.` },
      type: 'number',
      min: 1,
      max: def.maxLifetimeMonths,
      optional: true,
    });
  } else {
    // Without a lifetime rule the end date is the portal's to tell; the key-information check corrects it where it can.
    fields.push({
      name: 'expires_at',
      label: { fr: 'Date de fin de validité de la clé', en: 'End of validity of the key' },
      hint: { fr: 'Si le portail l’indique ; sinon laisser vide.', en: 'If the portal shows it; otherwise leave empty.' },
      type: 'date',
      optional: true,
    });
  }
  return {
    ...page,
    mode: 'form',
    fields,
    // The end date is offered, not asked: optional fields are on every page.
    requested: def.maxLifetimeMonths ? ['cfa_key', 'lifetime_months'] : ['cfa_key'],
    settings: ['base_url', 'editeur', 'logiciel', 'version'],
    // The OPCO's key-information endpoint, where the credential has its base URL.
    check: true,
    // A new key: the old one's dates go; issued_at becomes today (prepare() derives the end from the lifetime).
    // The integrator's EDITEUR/LOGICIEL/VERSION: from the credential, else the configuration; never asked.
    merge: (stored, submitted, { now, integrator: i }) => {
      const { expires_at: _e, issued_at: _i, lifetime_months: _l, ...kept } = stored;
      const headers = { ...(i.editeur ? { editeur: i.editeur } : {}), ...(i.logiciel ? { logiciel: i.logiciel } : {}), ...(i.version ? { version: i.version } : {}) };
      return { ...headers, ...kept, ...submitted, issued_at: now.toISOString() };
    },
  };
}

/** No OPCO key lasts longer than this: a later end in an answer is not taken as the key's end. */
const MAX_BELIEVED_YEARS = 5;

/** The first `dateFinValidite` in a key-information answer, whatever object or list wraps it. */
function endOfValidityIn(body: unknown, depth = 0): unknown {
  if (depth > 3 || typeof body !== 'object' || body === null) return undefined;
  if (Array.isArray(body)) {
    for (const item of body) {
      const found = endOfValidityIn(item, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const record = body as Record<string, unknown>;
  if ('dateFinValidite' in record) return record.dateFinValidite;
  for (const value of Object.values(record)) {
    const found = endOfValidityIn(value, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * `GET <base_url>/v2/cfakeyinfo?siren=…` with the key (PROVIDERS.md, Convergence CFA/OPCO):
 * some OPCOs answer the key's real end of validity. A 401/403 is a refused key; a
 * 404 or 405 says this OPCO offers no such endpoint, which is not the key's fault.
 */
async function keyInformation(def: OpcoDefinition, baseUrl: string | undefined, headers: Record<string, string>, ctx: ProbeContext): Promise<PlatformProbe> {
  if (!baseUrl) {
    return {
      status: 'not_testable',
      reason: {
        fr: `Aucune adresse de l’API ${def.name} (base_url) n’est enregistrée pour cet identifiant : la clé ne peut pas être vérifiée.`,
        en: `No ${def.name} API address (base_url) is stored for this credential: the key cannot be checked.`,
      },
    };
  }
  const siren = ctx.tenantIds.siren ?? ctx.tenantIds.siret?.slice(0, 9);
  if (!siren) {
    return {
      status: 'not_testable',
      reason: {
        fr: `Le client n’a pas de SIREN enregistré (sesame tenant set ${ctx.tenant} --siren …) : l’API ${def.name} le demande pour vérifier la clé.`,
        en: `The tenant has no SIREN (sesame tenant set ${ctx.tenant} --siren …): the ${def.name} API asks for it to check the key.`,
      },
    };
  }
  const url = `${baseUrl.replace(/\/+$/, '')}/v2/cfakeyinfo?siren=${siren}`;
  const res = await ctx.http.request({ method: 'GET', url: url, headers: { ...headers, accept: 'application/json' }, timeoutMs: ctx.retry.timeoutMs });
  const where = `${def.name} key information (${url.slice(0, url.indexOf('?'))})`;
  if (res.status === 404 || res.status === 405 || res.status === 501) {
    return {
      status: 'not_testable',
      reason: { fr: `${def.name} ne propose pas l’appel d’information sur la clé (réponse ${res.status}) : la clé ne peut pas être vérifiée.`, en: `${def.name} does not offer the key-information call (answer ${res.status}): the key cannot be checked.` },
    };
  }
  if (res.status === 429 || res.status >= 500) throw new SesameError('upstream_unavailable', `${where} answered ${res.status}`, { details: { upstream_status: res.status } });
  if (res.status < 200 || res.status >= 300) throw new SesameError('upstream_rejected', `${where} refused the key (${res.status})`, { details: { upstream_status: res.status } });
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  const end = parseEndOfValidity(endOfValidityIn(body));
  // An answer is believed within reason: a key that ended is refused, an end beyond any key's lifetime is not taken.
  const now = ctx.clock.now().getTime();
  if (end && end.getTime() <= now) {
    throw new SesameError('upstream_rejected', `${where} says the key ended on ${end.toISOString().slice(0, 10)}`, { details: { upstream_status: res.status, upstream_error: 'key_expired' } });
  }
  if (end && end.getTime() > now + MAX_BELIEVED_YEARS * 365.25 * 86_400_000) {
    return { status: 'ok', note: { fr: `${def.name} reconnaît la clé ; sa date de fin annoncée (${end.toISOString().slice(0, 10)}) n’est pas plausible et n’est pas retenue.`, en: `${def.name} recognises the key; the end date it gives (${end.toISOString().slice(0, 10)}) is not plausible and is not kept.` } };
  }
  if (!end) return { status: 'ok', note: { fr: `${def.name} reconnaît la clé, sans indiquer sa fin de validité.`, en: `${def.name} recognises the key, without telling its end of validity.` } };
  return { status: 'ok', expiresAt: end, note: { fr: `${def.name} reconnaît la clé.`, en: `${def.name} recognises the key.` } };
}

export function defineOpco(def: OpcoDefinition): Platform<unknown> {
  const schema = () =>
    z.strictObject({
    cfa_key: text(1024),
    expires_at: isoDate().optional(),
    lifetime_months: def.maxLifetimeMonths
      ? z.number().int().min(1).max(def.maxLifetimeMonths, `${def.name} keys last ${def.maxLifetimeMonths} months at most`).optional()
      : z.never({ error: `${def.name} keys have no lifetime to declare; give expires_at instead` }).optional(),
    issued_at: isoDate().optional(),
    editeur: text(256).optional(),
    logiciel: text(256).optional(),
    version: text(64).optional(),
    header_names: z
      .strictObject({ api_key: headerName().optional(), editeur: headerName().optional(), logiciel: headerName().optional(), version: headerName().optional() })
      .optional(),
    base_url: endpointUrl().optional(),
  });
  type OpcoFields = z.infer<ReturnType<typeof schema>>;
  const cfaKey: ExpiryName = { fr: `clé CFA ${def.name}`, en: `${def.name} CFA key`, short: `${def.name} key` };
  const names: PlatformNames = { short: def.name, expiries: { 'cfa-key': cfaKey } };
  const headersOf = (f: OpcoFields): Record<string, string> => {
    const n = f.header_names ?? {};
    const headers: Record<string, string> = { [n.api_key ?? 'X-API-KEY']: f.cfa_key };
    if (f.editeur) headers[n.editeur ?? 'EDITEUR'] = f.editeur;
    if (f.logiciel) headers[n.logiciel ?? 'LOGICIEL'] = f.logiciel;
    if (f.version) headers[n.version ?? 'VERSION'] = f.version;
    return headers;
  };

  return definePlatform<OpcoFields>({
    kind: `opco-${def.id}`,
    title: { fr: `CFA_KEY ${def.name} (Convergence CFA/OPCO)`, en: `${def.name} CFA_KEY (Convergence CFA/OPCO)` },
    names,
    environments: ['production'],
    schema,
    secretFields: ['cfa_key'],
    prepare(f, ctx) {
      if (!def.maxLifetimeMonths) return f;
      const issued = f.issued_at ? new Date(f.issued_at) : ctx.clock.now();
      const latest = addMonths(issued, def.maxLifetimeMonths);
      const expires = f.lifetime_months ? addMonths(issued, f.lifetime_months) : f.expires_at ? new Date(f.expires_at) : undefined;
      if (f.lifetime_months && f.expires_at && new Date(f.expires_at).getTime() !== expires?.getTime()) {
        throw new SesameError('invalid_request', `${def.name}: give lifetime_months or expires_at, not two different ends`, { details: { field: 'expires_at' } });
      }
      if (expires && expires > latest) {
        throw new SesameError('invalid_request', `${def.name} keys last ${def.maxLifetimeMonths} months at most: expires_at is later than issued_at + ${def.maxLifetimeMonths} months`, {
          details: { field: 'expires_at' },
        });
      }
      return { ...f, issued_at: issued.toISOString(), ...(expires ? { expires_at: expires.toISOString() } : {}) };
    },
    expiries(f) {
      return f.expires_at ? [{ what: cfaKey, at: new Date(f.expires_at) }] : [];
    },
    probe(f, ctx) {
      return keyInformation(def, f.base_url, headersOf(f), ctx);
    },
    material(f) {
      return { type: 'static', headers: headersOf(f), baseUrl: f.base_url ?? null, expiresAt: f.expires_at ? new Date(f.expires_at) : null };
    },
    renewal: def.renewal ?? GENERIC_RENEWAL(def.name),
    // Each OPCO's CFA_KEY is generated by the CFA's administrator on the OPCO's extranet.
    renewedBy: 'client',
    connect: opcoConnect(def),
  });
}
