import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useI18n, type Key } from '../i18n.tsx';
import type { AppView } from '../types.ts';
import { describe, ErrorBox, KeyOnce, Loading, PageTitle, splitList, useAsync } from '../ui.tsx';

type Shown = { app: string; key: string; previous?: string };
type Asking = { what: 'revoke' | 'rotate'; app: string };

const OVERLAPS = ['0', '1h', '24h', '7d'] as const;

function Confirm({ asking, onClose, onShown, onRevoked }: {
  asking: Asking;
  onClose: () => void;
  onShown: (s: Shown) => void;
  onRevoked: (app: string) => void;
}) {
  const i = useI18n();
  const { t } = i;
  const ref = useRef<HTMLDialogElement>(null);
  const [overlap, setOverlap] = useState<string>('24h');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const rotate = asking.what === 'rotate';
  const go = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (rotate) {
        const r = await api.rotateApp(asking.app, overlap);
        onShown({ app: r.app, key: r.key, previous: r.previous_key_expires_at });
      } else {
        await api.revokeApp(asking.app);
        onRevoked(asking.app);
      }
    } catch (err) {
      setError(describe(err));
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text" onClose={onClose}>
      <h2 id="confirm-title">{t(rotate ? 'apps.rotate.confirm' : 'apps.revoke.confirm', { app: asking.app })}</h2>
      <p id="confirm-text">{t(rotate ? 'apps.rotate.text' : 'apps.revoke.text', { app: asking.app })}</p>
      {rotate && (
        <div class="field">
          <label for="overlap">{t('apps.overlap')}</label>
          <select id="overlap" value={overlap} onChange={(e) => setOverlap(e.currentTarget.value)}>
            {OVERLAPS.map((o) => <option key={o} value={o}>{t(`overlap.${o}` as Key)}</option>)}
          </select>
        </div>
      )}
      {error && <p class="notice notice-error" role="alert">{t('error', { why: error })}</p>}
      <div class="actions">
        <button type="button" onClick={() => ref.current?.close()}>{t('cancel')}</button>
        <button type="button" class={rotate ? 'primary' : 'danger'} disabled={busy} onClick={go}>
          {t(rotate ? 'apps.rotate.yes' : 'apps.revoke.yes')}
        </button>
      </div>
    </dialog>
  );
}

export function Apps() {
  const i = useI18n();
  const { t } = i;
  const [apps, reload] = useAsync(() => api.apps(), []);
  const [tenants] = useAsync(() => api.tenants(), []);
  const [shown, setShown] = useState<Shown | undefined>(undefined);
  const [asking, setAsking] = useState<Asking | undefined>(undefined);
  const [notice, setNotice] = useState('');
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const [kinds, setKinds] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.addApp(name.trim(), picked, splitList(kinds));
      setShown({ app: r.app, key: r.key });
      setName('');
      setPicked([]);
      setKinds('');
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const state = (a: AppView) =>
    a.revoked_at ? (
      <span class="badge badge-expired"><span class="badge-symbol" aria-hidden="true">✕</span>{t('apps.revoked', { date: i.date(a.revoked_at) })}</span>
    ) : (
      <>
        <span class="badge badge-ok"><span class="badge-symbol" aria-hidden="true">✓</span>{t('apps.active')}</span>
        {a.previous_key_expires_at && <span class="sub">{t('apps.previous', { date: i.dateTime(a.previous_key_expires_at) })}</span>}
      </>
    );

  return (
    <>
      <PageTitle>{t('apps.title')}</PageTitle>
      {shown && (
        <KeyOnce
          app={shown.app}
          secret={shown.key}
          {...(shown.previous ? { note: t('key.previous', { date: i.dateTime(shown.previous) }) } : {})}
          onDone={() => setShown(undefined)}
        />
      )}
      <p role="status" class="ok-text">{notice}</p>
      {apps.state === 'loading' && <Loading />}
      {apps.state === 'error' && <ErrorBox error={apps.error} retry={reload} />}
      {apps.state === 'done' && (
        apps.value.items.length === 0 ? <p>{t('apps.empty')}</p> : (
          <div class="table-wrap">
            <table class="grid">
              <caption class="visually-hidden">{t('apps.caption', { n: apps.value.items.length })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('apps.app')}</th>
                  <th scope="col">{t('apps.tenants')}</th>
                  <th scope="col">{t('apps.kinds')}</th>
                  <th scope="col">{t('apps.created')}</th>
                  <th scope="col">{t('apps.key')}</th>
                  <th scope="col">{t('apps.state')}</th>
                  <th scope="col">{t('apps.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {apps.value.items.map((a) => (
                  <tr key={a.app}>
                    <th scope="row" class="mono">{a.app}</th>
                    <td class="mono">{a.tenants.join(', ')}</td>
                    <td>{a.kinds?.length ? <span class="mono">{a.kinds.join(', ')}</span> : <span class="muted">{t('apps.kinds.all')}</span>}</td>
                    <td>{i.date(a.created_at)}</td>
                    <td>{i.dateTime(a.key_created_at ?? a.created_at)}</td>
                    <td>{state(a)}</td>
                    <td class="row-actions">
                      {!a.revoked_at && (
                        <>
                          <button type="button" aria-label={t('apps.rotate', { app: a.app })} onClick={() => setAsking({ what: 'rotate', app: a.app })}>
                            {t('apps.rotatelink')}
                          </button>
                          <button type="button" class="danger" aria-label={t('apps.revoke', { app: a.app })} onClick={() => setAsking({ what: 'revoke', app: a.app })}>
                            {t('apps.revokelink')}
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
      {asking && (
        <Confirm
          asking={asking}
          onClose={() => setAsking(undefined)}
          onShown={(s) => {
            setAsking(undefined);
            setShown(s);
            reload();
          }}
          onRevoked={(app) => {
            setAsking(undefined);
            setNotice(t('apps.revoked.done', { app }));
            reload();
          }}
        />
      )}

      <section aria-labelledby="add-app" class="card narrow">
        <h2 id="add-app">{t('apps.add')}</h2>
        <form class="form" onSubmit={create}>
          <div class="field">
            <label for="app-name">{t('apps.name')}</label>
            <input id="app-name" value={name} required pattern="[a-z0-9][a-z0-9\-]*" autocomplete="off" aria-describedby="app-name-hint" onInput={(e) => setName(e.currentTarget.value)} />
            <span class="hint" id="app-name-hint">{t('apps.name.hint')}</span>
          </div>
          <fieldset class="checks">
            <legend>{t('apps.pick')}</legend>
            {tenants.state === 'done' && tenants.value.items.map((x) => (
              <div key={x.id} class="check">
                <input
                  type="checkbox"
                  id={`app-tenant-${x.id}`}
                  checked={picked.includes(x.id)}
                  onChange={(e) => setPicked(e.currentTarget.checked ? [...picked, x.id] : picked.filter((p) => p !== x.id))}
                />
                <label for={`app-tenant-${x.id}`}>{x.name} <span class="mono muted">({x.id})</span></label>
              </div>
            ))}
            {tenants.state === 'loading' && <Loading />}
          </fieldset>
          <div class="field">
            <label for="app-kinds">{t('apps.kinds.input')}</label>
            <input id="app-kinds" value={kinds} autocomplete="off" aria-describedby="app-kinds-hint" onInput={(e) => setKinds(e.currentTarget.value)} />
            <span class="hint" id="app-kinds-hint">{t('apps.kinds.hint')}</span>
          </div>
          {error !== undefined && <ErrorBox error={error} />}
          <button type="submit" class="primary" disabled={busy}>{t('apps.create')}</button>
        </form>
      </section>
    </>
  );
}
