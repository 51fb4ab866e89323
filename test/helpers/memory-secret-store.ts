import type { SecretListing, SecretStore, SecretVersion, Tags } from '../../functions/core/ports.ts';

/** An in-memory SecretStore that counts its calls, for tests about store traffic. Test-only. */
export class MemorySecretStore implements SecretStore {
  readonly secrets = new Map<string, { versions: SecretVersion[]; tags: Tags }>();
  readonly calls = { get: 0, getPrevious: 0, put: 0, tag: 0, tags: 0, list: 0 };
  private seq = 0;

  async get(name: string) {
    this.calls.get += 1;
    return this.secrets.get(name)?.versions[0];
  }
  async getPrevious(name: string) {
    this.calls.getPrevious += 1;
    return this.secrets.get(name)?.versions[1];
  }
  async put(name: string, value: unknown, tags: Tags = {}) {
    this.calls.put += 1;
    const s = this.secrets.get(name) ?? { versions: [], tags: {} };
    const version = `v${++this.seq}`;
    s.versions.unshift({ name, value: structuredClone(value), version, createdAt: undefined });
    s.tags = { ...s.tags, ...tags };
    this.secrets.set(name, s);
    return { version };
  }
  async tag(name: string, tags: Tags) {
    this.calls.tag += 1;
    const s = this.secrets.get(name);
    if (!s) throw new Error(`no secret ${name}`);
    s.tags = { ...s.tags, ...tags };
  }
  async tags(name: string) {
    this.calls.tags += 1;
    const s = this.secrets.get(name);
    return s ? { ...s.tags } : undefined;
  }
  async list(o: { prefix: string; nextToken?: string; pageSize?: number }): Promise<SecretListing> {
    this.calls.list += 1;
    const names = [...this.secrets.keys()].filter((n) => n.startsWith(o.prefix)).sort();
    const start = o.nextToken ? Number(o.nextToken) : 0;
    const size = o.pageSize ?? 100;
    const page = names.slice(start, start + size);
    return { items: page.map((name) => ({ name, tags: { ...this.secrets.get(name)?.tags } })), nextToken: start + size < names.length ? String(start + size) : undefined };
  }
}
