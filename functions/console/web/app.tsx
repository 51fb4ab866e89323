import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from './api.ts';
import { signOut } from './auth.ts';
import { I18nContext, LANGS, makeI18n, saveLang, type Key, type Lang } from './i18n.tsx';
import { href, useRoute, type Route } from './router.ts';
import { Apps } from './pages/apps.tsx';
import { Audit } from './pages/audit.tsx';
import { Credential } from './pages/credential.tsx';
import { Overview } from './pages/overview.tsx';
import { TenantEdit, Tenants } from './pages/tenants.tsx';
import { Timeline } from './pages/timeline.tsx';
import type { Operator } from './types.ts';
import { PageTitle } from './ui.tsx';

const LANG_NAMES: Record<Lang, string> = { fr: 'Français', en: 'English' };

function Page({ route }: { route: Route }) {
  const [a, b, c] = route.parts;
  if (a === undefined) return <Overview route={route} />;
  if (a === 'timeline' && b === undefined) return <Timeline />;
  if (a === 'credentials' && b && c) return <Credential key={`${b}/${c}`} tenant={b} credential={c} />;
  if (a === 'tenants' && b === undefined) return <Tenants />;
  if (a === 'tenants' && b) return <TenantEdit key={b} id={b} />;
  if (a === 'apps' && b === undefined) return <Apps />;
  if (a === 'audit' && b === undefined) return <Audit route={route} />;
  return <NotFound />;
}

function NotFound() {
  return (
    <I18nContext.Consumer>
      {(i) => <><PageTitle>{i.t('not.found')}</PageTitle><p><a href="#/">{i.t('nav.overview')}</a></p></>}
    </I18nContext.Consumer>
  );
}

const SECTIONS: { key: Key; parts: string[]; match: (r: Route) => boolean }[] = [
  { key: 'nav.overview', parts: [], match: (r) => r.parts.length === 0 || r.parts[0] === 'credentials' },
  { key: 'nav.timeline', parts: ['timeline'], match: (r) => r.parts[0] === 'timeline' },
  { key: 'nav.tenants', parts: ['tenants'], match: (r) => r.parts[0] === 'tenants' },
  { key: 'nav.apps', parts: ['apps'], match: (r) => r.parts[0] === 'apps' },
  { key: 'nav.audit', parts: ['audit'], match: (r) => r.parts[0] === 'audit' },
];

export function LangSelect({ lang, onChange }: { lang: Lang; onChange: (l: Lang) => void }) {
  const i = makeI18n(lang);
  return (
    <div class="lang">
      <label for="lang">{i.t('lang.label')}</label>
      <select id="lang" value={lang} onChange={(e) => onChange(e.currentTarget.value as Lang)}>
        {LANGS.map((l) => <option key={l} value={l} lang={l}>{LANG_NAMES[l]}</option>)}
      </select>
    </div>
  );
}

export function useLang(initial: Lang): [Lang, (l: Lang) => void] {
  const [lang, setLang] = useState<Lang>(initial);
  useEffect(() => saveLangQuiet(lang), [lang]);
  return [lang, (l) => { saveLang(l); setLang(l); }];
}

function saveLangQuiet(lang: Lang) {
  document.documentElement.lang = lang;
}

export function App({ initialLang, onSignedOut }: { initialLang: Lang; onSignedOut: () => void }) {
  const [lang, setLang] = useLang(initialLang);
  const i18n = useMemo(() => makeI18n(lang), [lang]);
  const route = useRoute();
  const [me, setMe] = useState<Operator | undefined>(undefined);
  useEffect(() => {
    api.me().then(setMe, () => undefined);
  }, []);
  useEffect(() => {
    document.title = i18n.t('app.title');
  }, [i18n]);
  const { t } = i18n;
  const who = me ? me.username ?? me.email ?? me.sub : undefined;
  return (
    <I18nContext.Provider value={i18n}>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        {t('skip')}
      </a>
      <header class="top">
        <div class="top-inner">
          <a class="brand" href="#/">
            <span class="brand-mark" aria-hidden="true">S</span>
            {t('app.title')}
          </a>
          <nav aria-label={t('nav.label')} class="nav">
            <ul>
              {SECTIONS.map((s) => (
                <li key={s.key}>
                  <a href={href(s.parts)} aria-current={s.match(route) ? 'page' : undefined}>{t(s.key)}</a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="tools">
            <LangSelect lang={lang} onChange={setLang} />
            {who && <span class="who">{t('signed.as', { who })}</span>}
            <button
              type="button"
              class="quiet"
              onClick={() => {
                signOut();
                onSignedOut();
              }}
            >
              {t('sign.out')}
            </button>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </I18nContext.Provider>
  );
}
