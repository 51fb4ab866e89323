import { z } from 'zod';
import { SesameError } from './errors.ts';
import { ID_PATTERN, parseTenantId } from './ids.ts';
import type { Clock, SecretStore } from './ports.ts';
import { validate } from './validate.ts';

export const TENANT_PREFIX = 'sesame-tenants/';
export const tenantSecretName = (id: string) => `${TENANT_PREFIX}${id}`;

const digits = (n: number, label: string) => z.string().transform((v) => v.replace(/[\s.]/g, '')).pipe(z.string().regex(new RegExp(`^\\d{${n}}$`), `must be a ${label} of ${n} digits`));

export const tenantSchema = z.strictObject({
  id: z.string().regex(ID_PATTERN, 'must be 1 to 64 characters among a-z, 0-9 and "-"'),
  name: z.string().trim().min(1).max(200),
  siret: digits(14, 'SIRET').optional(),
  siren: digits(9, 'SIREN').optional(),
  bce: digits(10, 'BCE number').optional(),
  alert_emails: z.array(z.email('must be an email address')).max(20).default([]),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
export type Tenant = z.infer<typeof tenantSchema>;
export type TenantInput = z.input<typeof tenantSchema>;

export class Tenants {
  constructor(
    private readonly store: SecretStore,
    private readonly clock: Clock,
  ) {}

  /** Creates or updates; the previous version stays in the store. */
  async put(input: TenantInput): Promise<{ tenant: Tenant; created: boolean }> {
    parseTenantId(input.id);
    const existing = await this.find(input.id);
    const now = this.clock.now().toISOString();
    const tenant = validate(tenantSchema, { ...input, created_at: existing?.created_at ?? now, updated_at: now }, 'tenant');
    await this.store.put(tenantSecretName(tenant.id), tenant, { 'sesame:tenant': tenant.id, 'sesame:type': 'tenant' });
    return { tenant, created: !existing };
  }

  async find(id: string): Promise<Tenant | undefined> {
    const secret = await this.store.get(tenantSecretName(parseTenantId(id)));
    return secret ? validate(tenantSchema, secret.value, `tenant ${id}`, 'store_corrupt') : undefined;
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
