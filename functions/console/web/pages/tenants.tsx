import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useI18n } from '../i18n.tsx';
import { href, navigate } from '../router.ts';
import type { TenantChanges, TenantView } from '../types.ts';
import { ErrorBox, Loading, PageTitle, splitList, useAsync } from '../ui.tsx';
import { auditHref } from './audit.tsx';
import { NewCredentialLink } from './connect-new.tsx';

interface Form {
  id: string;
  name: string;
  siret: string;
  bce: string;
  emails: string;
}

const empty: Form = { id: '', name: '', siret: '', bce: '', emails: '' };
const formOf = (t: TenantView): Form => ({ id: t.id, name: t.name, siret: t.siret ?? '', bce: t.bce ?? '', emails: t.alert_emails.join('\n') });

function TenantForm({ initial, editing, submitLabel, onSubmit }: {
  initial: Form;
  editing: boolean;
  submitLabel: string;
  onSubmit: (f: Form) => Promise<void>;
}) {
  const { t } = useI18n();
  const [f, setF] = useState<Form>(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const p = editing ? 'edit' : 'add';
  const bind = (k: keyof Form) => ({
    id: `${p}-${k}`,
    value: f[k],
    onInput: (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => setF({ ...f, [k]: e.currentTarget.value }),
  });
  return (
    <form
      class="form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          await onSubmit(f);
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      {!editing && (
        <div class="field">
          <label for={`${p}-id`}>{t('tenants.id')}</label>
          <input {...bind('id')} required pattern="[a-z0-9][a-z0-9\-]*" aria-describedby={`${p}-id-hint`} autocomplete="off" />
          <span class="hint" id={`${p}-id-hint`}>{t('tenants.id.hint')}</span>
        </div>
      )}
      <div class="field">
        <label for={`${p}-name`}>{t('tenants.name')}</label>
        <input {...bind('name')} required autocomplete="organization" />
      </div>
      <div class="field-row">
        <div class="field">
          <label for={`${p}-siret`}>{t('tenants.siret')}</label>
          <input {...bind('siret')} inputMode="numeric" autocomplete="off" />
        </div>
        <div class="field">
          <label for={`${p}-bce`}>{t('tenants.bce')}</label>
          <input {...bind('bce')} inputMode="numeric" autocomplete="off" />
        </div>
      </div>
      <div class="field">
        <label for={`${p}-emails`}>{t('tenants.emails')}</label>
        <textarea {...bind('emails')} rows={3} aria-describedby={`${p}-emails-hint`} />
        <span class="hint" id={`${p}-emails-hint`}>{t('tenants.emails.hint')}</span>
      </div>
      {error !== undefined && <ErrorBox error={error} />}
      <button type="submit" class="primary" disabled={busy}>{submitLabel}</button>
    </form>
  );
}

export function Tenants() {
  const i = useI18n();
  const { t } = i;
  const [data, reload] = useAsync(() => api.tenants(), []);
  const [done, setDone] = useState<string | undefined>(undefined);
  const [formKey, setFormKey] = useState(0);
  return (
    <>
      <PageTitle>{t('tenants.title')}</PageTitle>
      {data.state === 'loading' && <Loading />}
      {data.state === 'error' && <ErrorBox error={data.error} retry={reload} />}
      {data.state === 'done' && (
        data.value.items.length === 0 ? <p>{t('tenants.empty')}</p> : (
          <div class="table-wrap">
            <table class="grid">
              <caption class="visually-hidden">{t('tenants.caption', { n: data.value.items.length })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('tenants.name')}</th>
                  <th scope="col">{t('tenants.id')}</th>
                  <th scope="col">SIRET / BCE</th>
                  <th scope="col">{t('tenants.emails')}</th>
                  <th scope="col" class="num">{t('tenants.credentials')}</th>
                  <th scope="col">{t('tenants.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {data.value.items.map((x) => (
                  <tr key={x.id}>
                    <th scope="row">{x.name}</th>
                    <td class="mono">{x.id}</td>
                    <td class="mono">{x.siret ?? x.bce ?? '—'}</td>
                    <td>{x.alert_emails.length ? x.alert_emails.join(', ') : <span class="muted">{t('none')}</span>}</td>
                    <td class="num"><a href={href([], { tenant: x.id })} aria-label={`${t('tenants.see')}: ${x.name} (${x.credentials})`}>{x.credentials}</a></td>
                    <td><a href={href(['tenants', x.id])} aria-label={t('tenants.edit', { name: x.name })}>{t('tenants.editlink')}</a></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
      <section aria-labelledby="add-tenant" class="card narrow">
        <h2 id="add-tenant">{t('tenants.add')}</h2>
        <p role="status" class="ok-text">{done ? t('tenants.created', { id: done }) : ''}</p>
        <TenantForm
          key={formKey}
          initial={empty}
          editing={false}
          submitLabel={t('tenants.add')}
          onSubmit={async (f) => {
            const emails = splitList(f.emails);
            const created = await api.addTenant({
              id: f.id.trim(),
              name: f.name.trim(),
              ...(f.siret.trim() ? { siret: f.siret.trim() } : {}),
              ...(f.bce.trim() ? { bce: f.bce.trim() } : {}),
              ...(emails.length ? { alert_emails: emails } : {}),
            });
            setDone(created.id);
            setFormKey((n) => n + 1);
            reload();
          }}
        />
      </section>
    </>
  );
}

export function TenantEdit({ id }: { id: string }) {
  const { t } = useI18n();
  const [data, reload] = useAsync(() => api.tenant(id), [id]);
  const [saved, setSaved] = useState<string[] | undefined>(undefined);
  return (
    <>
      <p class="crumb"><a href={href(['tenants'])}>← {t('tenants.back')}</a></p>
      <PageTitle>{t('tenants.edit', { name: data.state === 'done' ? data.value.name : id })}</PageTitle>
      {data.state === 'loading' && <Loading />}
      {data.state === 'error' && <ErrorBox error={data.error} retry={reload} />}
      {data.state === 'done' && (
        <section class="card narrow" aria-label={t('tenants.edit', { name: data.value.name })}>
          <p class="muted">{t('tenants.id')}: <span class="mono">{data.value.id}</span> · <a href={href([], { tenant: id })}>{t('tenants.see')}</a> · <a href={auditHref({ tenant: id })}>{t('tenants.audit')}</a></p>
          <p role="status" class="ok-text">
            {saved === undefined ? '' : saved.length ? t('tenants.saved', { fields: saved.join(', ') }) : t('tenants.unchanged')}
          </p>
          <TenantForm
            key={data.value.updated_at}
            initial={formOf(data.value)}
            editing
            submitLabel={t('save')}
            onSubmit={async (f) => {
              const before = formOf(data.value);
              const change: TenantChanges = {};
              if (f.name.trim() !== before.name) change.name = f.name.trim();
              for (const k of ['siret', 'bce'] as const) if (f[k].trim() !== before[k]) change[k] = f[k].trim() === '' ? null : f[k].trim();
              const emails = splitList(f.emails);
              if (emails.join('\n') !== data.value.alert_emails.join('\n')) change.alert_emails = emails;
              const r = await api.editTenant(id, change);
              setSaved(r.changed);
              reload();
            }}
          />
        </section>
      )}
      {data.state === 'done' && <NewCredentialLink key={data.value.id} tenant={data.value} />}
    </>
  );
}

export const goTenant = (id: string) => navigate(href(['tenants', id]));
