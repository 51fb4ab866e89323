import { render } from 'preact';
import { useMemo } from 'preact/hooks';
import './app.css';
import { App, LangSelect, useLang } from './app.tsx';
import { accessToken, completeSignIn, signIn } from './auth.ts';
import { initialLang, makeI18n, type Lang } from './i18n.tsx';

const root = document.getElementById('root') as HTMLElement;
const SIGNED_OUT = 'sesame.console.signed-out';

/** The page shown while the browser goes to the issuer, after a sign-out, or when the sign-in failed. */
function Gate({ initial, message, error }: { initial: Lang; message: 'signing' | 'signed-out' | 'failed'; error?: string }) {
  const [lang, setLang] = useLang(initial);
  const i = useMemo(() => makeI18n(lang), [lang]);
  return (
    <main id="main" class="gate" tabIndex={-1}>
      <div class="gate-card">
        <h1><span class="brand-mark" aria-hidden="true">S</span> {i.t('app.title')}</h1>
        {message === 'signing' && <p role="status">{i.t('signing.in')}</p>}
        {message === 'signed-out' && <p role="status">{i.t('signed.out')}</p>}
        {message === 'failed' && <p class="notice notice-error" role="alert">{i.t('signin.failed', { why: error ?? '' })}</p>}
        {message !== 'signing' && (
          <button
            type="button"
            class="primary"
            onClick={() => {
              sessionStorage.removeItem(SIGNED_OUT);
              void signIn('#/').catch((err: unknown) => show('failed', String(err instanceof Error ? err.message : err)));
            }}
          >
            {i.t('sign.in')}
          </button>
        )}
        <LangSelect lang={lang} onChange={setLang} />
      </div>
    </main>
  );
}

function show(message: 'signing' | 'signed-out' | 'failed', error?: string) {
  render(<Gate initial={initialLang()} message={message} {...(error !== undefined ? { error } : {})} />, root);
}

function start() {
  render(
    <App
      initialLang={initialLang()}
      onSignedOut={() => {
        sessionStorage.setItem(SIGNED_OUT, 'true');
        history.replaceState(null, '', '/console/');
        show('signed-out');
      }}
    />,
    root,
  );
}

async function boot() {
  document.documentElement.lang = initialLang();
  if (location.pathname === '/console/callback') {
    show('signing');
    try {
      const back = await completeSignIn(new URL(location.href));
      history.replaceState(null, '', `/console/${back.startsWith('#/') ? back : '#/'}`);
      start();
    } catch (err) {
      history.replaceState(null, '', '/console/');
      show('failed', err instanceof Error ? err.message : String(err));
    }
    return;
  }
  if (accessToken()) {
    start();
    return;
  }
  if (sessionStorage.getItem(SIGNED_OUT) === 'true') {
    show('signed-out');
    return;
  }
  show('signing');
  try {
    await signIn(location.hash.startsWith('#/') ? location.hash : '#/');
  } catch (err) {
    show('failed', err instanceof Error ? err.message : String(err));
  }
}

void boot();
