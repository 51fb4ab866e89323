import * as z from 'zod';
import { SesameError } from './errors.ts';
import { ID_PATTERN, isValidBce, isValidSiren, isValidSiret, parseTenantId } from './ids.ts';
import type { Clock, SecretStore } from './ports.ts';
import { once } from './once.ts';
import { validate } from './validate.ts';

export const TENANT_PREFIX = 'sesame-tenants/';
export const tenantSecretName = (id: string) => `${TENANT_PREFIX}${id}`;

const digits = (n: number, label: string) => z.string().transform((v) => v.replace(/[\s.]/g, '')).pipe(z.string().regex(new RegExp(`^\\d{${n}}$`), `must be a ${label} of ${n} digits`));

/** The stored record. Reading checks its shape only, so that no stored tenant becomes unreadable. */
export const tenantSchema = once(() =>
  z.strictObject({
    id: z.string().regex(ID_PATTERN, 'must be 1 to 64 characters among a-z, 0-9 and "-"'),
    name: z.string().trim().min(1).max(200),
    siret: digits(14, 'SIRET').optional(),
    siren: digits(9, 'SIREN').optional(),
    bce: digits(10, 'BCE number').optional(),
    alert_emails: z.array(z.email('must be an email address')).max(20).default([]),
    /**
     * Whether expiry alerts for credentials the client renews itself (Platform.renewedBy
     * `client`) carry a fresh connect link. Absent: yes. Never for integrator-renewed ones.
     */
    connect_links_in_alerts: z.boolean().optional(),
    created_at: z.string().optional(),
    updated_at: z.string().optional(),
  }),
);
export type Tenant = z.infer<ReturnType<typeof tenantSchema>>;
export type TenantInput = z.input<ReturnType<typeof tenantSchema>>;

type Identifier = 'siret' | 'siren' | 'bce';
const IDENTIFIERS: readonly Identifier[] = ['siret', 'siren', 'bce'];

/**
 * What `add` and `update` write: the record, plus the check digits of the identifiers
 * given (an update checks those it changes, so that a record stored before these checks
 * can still get a new alert email).
 */
const tenantInputSchema = (check: readonly Identifier[] = IDENTIFIERS) =>
  tenantSchema().superRefine((t, ctx) => {
    const checked = (k: Identifier) => check.includes(k) && t[k] !== undefined;
    if (checked('siret') && !isValidSiret(t.siret as string)) ctx.addIssue({ code: 'custom', path: ['siret'], message: 'is not a valid SIRET: its check digit is wrong (Luhn)' });
    if (checked('siren') && !isValidSiren(t.siren as string)) ctx.addIssue({ code: 'custom', path: ['siren'], message: 'is not a valid SIREN: its check digit is wrong (Luhn)' });
    if (checked('bce') && !isValidBce(t.bce as string)) ctx.addIssue({ code: 'custom', path: ['bce'], message: 'is not a valid BCE number: 10 digits starting with 0 or 1, the last two being 97 minus the first eight modulo 97' });
    if ((checked('siret') || checked('siren')) && t.siret !== undefined && t.siren !== undefined && !t.siret.startsWith(t.siren)) {
      ctx.addIssue({ code: 'custom', path: ['siret'], message: 'does not start with the SIREN' });
    }
  });

const uniqueEmails = (list: string[]) => list.filter((e, i) => list.findIndex((x) => sameEmail(x, e)) === i);

/**
 * A change to a tenant: only the fields given change. `null` removes an identifier;
 * `alert_emails` replaces the list, `add_alert_emails` / `remove_alert_emails` edit it.
 */
const changesSchema = once(() =>
  z.strictObject({
    name: z.string().optional(),
    siret: z.string().nullable().optional(),
    siren: z.string().nullable().optional(),
    bce: z.string().nullable().optional(),
    alert_emails: z.array(z.string()).optional(),
    add_alert_emails: z.array(z.string()).optional(),
    remove_alert_emails: z.array(z.string()).optional(),
    connect_links_in_alerts: z.boolean().optional(),
  }),
);
export type TenantChanges = z.input<ReturnType<typeof changesSchema>>;

const sameEmail = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The tenant's alert address equal to `email` (case aside), as recorded; undefined when it is not one. */
export const alertEmailOf = (tenant: Tenant, email: string): string | undefined => tenant.alert_emails.find((e) => sameEmail(e, email.trim()));

/** Whether the tenant's expiry alerts for client-renewed credentials carry a connect link (default: yes). */
export const connectLinksInAlerts = (tenant: Tenant): boolean => tenant.connect_links_in_alerts !== false;

export class Tenants {
  constructor(
    private readonly store: SecretStore,
    private readonly clock: Clock,
  ) {}

  /** Creates a tenant; refuses `conflict` when it exists (an update is `update`, explicitly). */
  async add(input: Omit<TenantInput, 'created_at' | 'updated_at'>): Promise<Tenant> {
    const id = parseTenantId(input.id);
    if (await this.find(id)) {
      throw new SesameError('conflict', `tenant "${id}" already exists: change it with \`sesame tenant set ${id} …\` (only the fields given change)`, { details: { tenant: id } });
    }
    const now = this.clock.now().toISOString();
    const tenant = validate(tenantInputSchema(), { ...input, created_at: now, updated_at: now }, 'tenant');
    tenant.alert_emails = uniqueEmails(tenant.alert_emails);
    await this.write(tenant);
    return tenant;
  }

  /** Changes only the fields given; throws unknown_tenant. Returns the names of the fields that changed. */
  async update(id: string, changes: TenantChanges): Promise<{ tenant: Tenant; changed: string[] }> {
    const current = await this.get(id);
    const c = validate(changesSchema(), changes, 'tenant');
    const next: Record<string, unknown> = { ...current };
    if (c.name !== undefined) next.name = c.name;
    for (const key of IDENTIFIERS) {
      if (c[key] === null) delete next[key];
      else if (c[key] !== undefined) next[key] = c[key];
    }
    let emails = c.alert_emails ?? current.alert_emails;
    for (const e of c.remove_alert_emails ?? []) {
      if (!emails.some((x) => sameEmail(x, e))) {
        throw new SesameError('invalid_request', `tenant "${id}": "${e.slice(0, 254)}" is not one of its alert emails (${current.alert_emails.join(', ') || 'none'})`, { details: { field: 'remove_alert_emails' } });
      }
      emails = emails.filter((x) => !sameEmail(x, e));
    }
    for (const e of c.add_alert_emails ?? []) if (!emails.some((x) => sameEmail(x, e))) emails = [...emails, e];
    next.alert_emails = emails;
    if (c.connect_links_in_alerts !== undefined) next.connect_links_in_alerts = c.connect_links_in_alerts;
    const candidate = validate(tenantInputSchema(IDENTIFIERS.filter((k) => typeof c[k] === 'string')), { ...next, updated_at: current.updated_at }, 'tenant');
    const changed = (['name', 'siret', 'siren', 'bce', 'alert_emails', 'connect_links_in_alerts'] as const).filter((k) => JSON.stringify(candidate[k]) !== JSON.stringify(current[k]));
    if (changed.length === 0) return { tenant: current, changed };
    const tenant = { ...candidate, updated_at: this.clock.now().toISOString() };
    await this.write(tenant);
    return { tenant, changed };
  }

  /**
   * Creates or replaces the whole record, for seeding (the demo, tests). It checks the
   * shape only: what people type goes through `add` and `update`, which also check the
   * identifiers' check digits and never replace a tenant by accident.
   */
  async put(input: TenantInput): Promise<{ tenant: Tenant; created: boolean }> {
    parseTenantId(input.id);
    const existing = await this.find(input.id);
    const now = this.clock.now().toISOString();
    const tenant = validate(tenantSchema(), { ...input, created_at: existing?.created_at ?? now, updated_at: now }, 'tenant');
    await this.write(tenant);
    return { tenant, created: !existing };
  }

  private async write(tenant: Tenant): Promise<void> {
    await this.store.put(tenantSecretName(tenant.id), tenant, { 'sesame:tenant': tenant.id, 'sesame:type': 'tenant' });
  }

  async find(id: string): Promise<Tenant | undefined> {
    const secret = await this.store.get(tenantSecretName(parseTenantId(id)));
    return secret ? validate(tenantSchema(), secret.value, `tenant ${id}`, 'store_corrupt') : undefined;
  }

  async get(id: string): Promise<Tenant> {
    const t = await this.find(id);
    if (!t) throw new SesameError('unknown_tenant', `tenant "${id}" does not exist`, { details: { tenant: id } });
    return t;
  }

  async list(): Promise<Tenant[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.store.list({ prefix: TENANT_PREFIX, ...(nextToken ? { nextToken } : {}) });
      names.push(...page.items.map((i) => i.name));
      nextToken = page.nextToken;
    } while (nextToken);
    const tenants = await Promise.all(names.map((n) => this.get(n.slice(TENANT_PREFIX.length))));
    return tenants.sort((a, b) => a.id.localeCompare(b.id));
  }
}
