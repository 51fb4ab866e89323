import { useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { components } from '../generated/api.ts';
import { useI18n, type Key } from '../i18n.tsx';
import { href } from '../router.ts';
import { PLATFORMS, type Platform, type TenantView } from '../types.ts';
import { ErrorBox, useAsync } from '../ui.tsx';
import { LINK_DAYS, LinkOnce } from './link-once.tsx';
import { platformName } from './overview.tsx';

type S = components['schemas'];
/** Every kind the API document lists: a kind added to the registry and missing below does not compile. */
type Kind = NonNullable<S['AppInput']['kinds']>[number];
type Environment = NonNullable<S['ConnectLinkInput']['environment']>;
type Setting = 'quality' | 'client_id' | 'scope' | 'editeur' | 'logiciel' | 'version' | 'review_at';

/**
 * What a new credential's link may say, per platform: its environments and the settings an
 * operator may give (each platform module's `environments` and `connect.settings`, but
 * for where secrets are sent, `token_endpoint` and `base_url`, which the admin API
 * refuses: an administrator sets those with the CLI). The
 * admin API does not describe its platforms, so the console keeps this beside
 * PLATFORM_TITLES; test/browser/connect-new.test.ts compares it with the registry.
 */
export const FAMILIES: Record<Platform, { environments: readonly Environment[]; settings: readonly Setting[] }> = {
  fla: { environments: ['production', 'acceptance'], settings: ['quality'] },
  'chorus-piste': { environments: ['production', 'sandbox'], settings: ['client_id', 'scope'] },
  'chorus-edi': { environments: ['production', 'sandbox'], settings: [] },
  opco: { environments: ['production'], settings: ['editeur', 'logiciel', 'version'] },
  'cegid-cfe': { environments: ['production'], settings: ['review_at'] },
};

const KIND_FAMILY: Record<Kind, Platform> = {
  fla: 'fla',
  'chorus-piste': 'chorus-piste',
  'chorus-edi': 'chorus-edi',
  'cegid-cfe': 'cegid-cfe',
  'opco-afdas': 'opco',
  'opco-akto': 'opco',
  'opco-atlas': 'opco',
  'opco-constructys': 'opco',
  'opco-mobilites': 'opco',
  'opco-ocapiat': 'opco',
  'opco-opco2i': 'opco',
  'opco-opcoep': 'opco',
  'opco-opcommerce': 'opco',
  'opco-sante': 'opco',
  'opco-uniformation': 'opco',
};
const KINDS = Object.keys(KIND_FAMILY) as Kind[];

/** FLA's capacities (its schema's `quality`): a choice, not free text, as the API takes no other value. */
const QUALITIES = ['employer', 'provider', 'training-provider'] as const;


/** The API's rule for a credential id (functions/core/ids.ts), with the chosen kind as its start. */
const idFits = (id: string, kind: Kind) => new RegExp(`^${kind}(?:-[a-z0-9]+)*$`).test(id);

interface Created {
  credential: string;
  url: string;
  expires_at: string;
  sent_to?: string;
}

/**
 * A connect link for a credential the tenant does not have yet: the link makes it, in
 * the environment chosen here, with the operator's settings, when the client hands it over.
 */
export function NewCredentialLink({ tenant }: { tenant: TenantView }) {
  const i = useI18n();
  const { t } = i;
  const first = KINDS[0] as Kind;
  const [kind, setKind] = useState<Kind>(first);
  const [id, setId] = useState<string>(first);
  const [environment, setEnvironment] = useState<Environment>(FAMILIES[KIND_FAMILY[first]].environments[0] as Environment);
  const [days, setDays] = useState<number>(7);
  const [settings, setSettings] = useState<Partial<Record<Setting, string>>>({});
  const [email, setEmail] = useState('');
  const [idError, setIdError] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [created, setCreated] = useState<Created | undefined>(undefined);
  const idInput = useRef<HTMLInputElement>(null);
  const [existing, reloadExisting] = useAsync(() => api.credentials({ tenant: tenant.id, limit: 500 }), [tenant.id]);

  const family = FAMILIES[KIND_FAMILY[kind]];
  const trimmed = id.trim();
  const current = existing.state === 'done' ? existing.value.items.find((c) => c.tenant === tenant.id && c.credential === trimmed) : undefined;
  const envName = (e: string) => (e === 'production' || e === 'acceptance' || e === 'sandbox' ? t(`env.${e}`) : e);

  const chooseKind = (next: Kind) => {
    // The suffix typed so far stays; only the kind it starts with changes.
    if (id === kind || id.startsWith(`${kind}-`)) setId(next + id.slice(kind.length));
    const envs = FAMILIES[KIND_FAMILY[next]].environments;
    if (!envs.includes(environment)) setEnvironment(envs[0] as Environment);
    if (KIND_FAMILY[next] !== KIND_FAMILY[kind]) setSettings({});
    setKind(next);
    setIdError(false);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setCreated(undefined);
    if (!idFits(trimmed, kind)) {
      setIdError(true);
      idInput.current?.focus();
      return;
    }
    const given: Record<string, string> = {};
    for (const name of family.settings) {
      const v = settings[name]?.trim();
      if (v) given[name] = v;
    }
    setBusy(true);
    try {
      const r = await api.createConnectLink(tenant.id, trimmed, {
        valid: `${days}d`,
        environment,
        ...(Object.keys(given).length > 0 ? { settings: given } : {}),
        ...(email ? { email } : {}),
      });
      setCreated({ credential: trimmed, url: r.url, expires_at: r.expires_at, ...(r.sent_to ? { sent_to: r.sent_to } : {}) });
      reloadExisting();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const example = `${kind}-${family.environments.includes('sandbox') ? 'sandbox' : family.environments.includes('acceptance') ? 'acceptance' : '2'}`;
  const described = ['newlink-id-hint', ...(idError ? ['newlink-id-error'] : []), ...(current ? ['newlink-exists'] : [])].join(' ');

  return (
    <section aria-labelledby="newlink-title" class="card narrow">
      <h2 id="newlink-title">{t('newlink.title')}</h2>
      <p id="newlink-intro">{t('newlink.intro')}</p>
      <form class="form" noValidate onSubmit={submit} aria-describedby="newlink-intro">
        <div class="field-row">
          <div class="field">
            <label for="newlink-kind">{t('newlink.kind')}</label>
            <select id="newlink-kind" value={kind} onChange={(e) => chooseKind(e.currentTarget.value as Kind)}>
              {PLATFORMS.map((p) => {
                const kinds = KINDS.filter((k) => KIND_FAMILY[k] === p);
                if (kinds.length === 1 && kinds[0] === p) return <option key={p} value={p}>{platformName(p, i.lang)}</option>;
                return (
                  <optgroup key={p} label={platformName(p, i.lang)}>
                    {kinds.map((k) => <option key={k} value={k}>{k}</option>)}
                  </optgroup>
                );
              })}
            </select>
          </div>
          <div class="field">
            <label for="newlink-id">{t('newlink.id')}</label>
            <input
              id="newlink-id"
              ref={idInput}
              class="mono"
              type="text"
              value={id}
              required
              autocomplete="off"
              spellcheck={false}
              aria-invalid={idError}
              aria-describedby={described}
              onInput={(e) => {
                setId(e.currentTarget.value);
                setIdError(false);
              }}
            />
            <span class="hint" id="newlink-id-hint">{t('newlink.id.hint', { kind, example })}</span>
            {idError && <span class="field-error" id="newlink-id-error">{t('newlink.id.invalid', { kind })}</span>}
          </div>
        </div>
        <div aria-live="polite">
          {current && (
            <p class="notice notice-info" id="newlink-exists">
              {t('newlink.exists', { tenant: tenant.name, credential: current.credential, environment: envName(current.environment) })}{' '}
              <a href={href(['credentials', tenant.id, current.credential])}>{t('newlink.page', { credential: current.credential })}</a>
            </p>
          )}
        </div>
        <div class="field-row">
          <div class="field">
            <label for="newlink-env">{t('newlink.environment')}</label>
            <select id="newlink-env" value={environment} onChange={(e) => setEnvironment(e.currentTarget.value as Environment)}>
              {family.environments.map((env) => <option key={env} value={env}>{envName(env)}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="newlink-valid">{t('connect.valid')}</label>
            <select id="newlink-valid" value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
              {LINK_DAYS.map((d) => <option key={d} value={String(d)}>{d === 1 ? t('connect.day') : t('connect.days', { n: d })}</option>)}
            </select>
          </div>
        </div>
        {family.settings.length > 0 && (
          <fieldset class="settings" aria-describedby="newlink-settings-hint">
            <legend>{t('newlink.settings')}</legend>
            <p class="hint" id="newlink-settings-hint">{t('newlink.settings.hint')}</p>
            <div class="settings-grid">
              {family.settings.map((name) => {
                const fid = `newlink-setting-${name}`;
                const value = settings[name] ?? '';
                const set = (v: string) => setSettings({ ...settings, [name]: v });
                return (
                  <div class="field" key={name}>
                    <label for={fid}>{t(`setting.${name}` as Key)} <span class="mono setting-name">{name}</span></label>
                    {name === 'quality' ? (
                      <select id={fid} value={value} onChange={(e) => set(e.currentTarget.value)}>
                        <option value="">{t('quality.unset')}</option>
                        {QUALITIES.map((q) => <option key={q} value={q}>{t(`quality.${q}`)}</option>)}
                      </select>
                    ) : (
                      <input
                        id={fid}
                        type={name === 'review_at' ? 'date' : 'text'}
                        class={name === 'review_at' ? undefined : 'mono'}
                        value={value}
                        autocomplete="off"
                        spellcheck={false}
                        onInput={(e) => set(e.currentTarget.value)}
                      />
                    )}
                  </div>
                );
              })}
            </div>
          </fieldset>
        )}
        {tenant.alert_emails.length > 0 && (
          <div class="field">
            <label for="newlink-email">{t('newlink.email')}</label>
            <select id="newlink-email" value={email} aria-describedby="newlink-email-hint" onChange={(e) => setEmail(e.currentTarget.value)}>
              <option value="">{t('newlink.email.none')}</option>
              {tenant.alert_emails.map((a) => <option key={a} value={a}>{a}</option>)}
            </select>
            <span class="hint" id="newlink-email-hint">{t('newlink.email.hint', { tenant: tenant.name })}</span>
          </div>
        )}
        {error !== undefined && <ErrorBox error={error} />}
        <button type="submit" class="primary" disabled={busy}>{t('newlink.create')}</button>
      </form>
      <div aria-live="polite">{busy && <p role="status">{t('connect.creating')}</p>}</div>
      {created && (
        <LinkOnce credential={created.credential} url={created.url} expires={created.expires_at} onDone={() => setCreated(undefined)}>
          {created.sent_to && <p>{t('newlink.sent', { email: created.sent_to })}</p>}
          <p>
            <a href={href(['credentials', tenant.id, created.credential])}>{t('newlink.page', { credential: created.credential })}</a>
            <span class="sub">{t('newlink.page.hint')}</span>
          </p>
        </LinkOnce>
      )}
    </section>
  );
}
