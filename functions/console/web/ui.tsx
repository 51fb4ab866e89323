import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { useI18n } from './i18n.tsx';
import type { Status } from './types.ts';

/** A symbol per status, so that status never rests on colour alone. */
export const STATUS_SYMBOL: Record<Status, string> = {
  ok: '✓',
  expiring: '!',
  expired: '✕',
  incomplete: '?',
  refused: '⊘',
};

export function StatusBadge({ status }: { status: Status }) {
  const { status: label } = useI18n();
  return (
    <span class={`badge badge-${status}`}>
      <span class="badge-symbol" aria-hidden="true">{STATUS_SYMBOL[status]}</span>
      {label(status)}
    </span>
  );
}

export function Loading() {
  const { t } = useI18n();
  return <p class="muted" role="status">{t('loading')}</p>;
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const p = err.problem;
    return [p.title, p.detail].filter((x) => x && x.length > 0).join(': ') || `HTTP ${err.status}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const { t } = useI18n();
  return (
    <div class="notice notice-error" role="alert">
      <p>{t('error', { why: describe(error) })}</p>
      {retry && <button type="button" onClick={retry}>{t('retry')}</button>}
    </div>
  );
}

export type Async<T> = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'done'; value: T };

/** Runs `load` whenever `deps` change; the latest call wins. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): [Async<T>, () => void] {
  const [result, setResult] = useState<Async<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setResult((r) => (r.state === 'done' ? r : { state: 'loading' }));
    load().then(
      (value) => mine === seq.current && setResult({ state: 'done', value }),
      (error: unknown) => mine === seq.current && setResult({ state: 'error', error }),
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return [result, reload];
}

/** The page's h1, focused after a navigation so that screen readers announce the new page. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (document.body.dataset['navigated'] === 'true') ref.current?.focus();
  }, []);
  return <h1 tabIndex={-1} ref={ref}>{children}</h1>;
}

/** A key shown once, with a copy button and the warning that it will not be shown again. */
export function KeyOnce({ app, secret, note, onDone }: { app: string; secret: string; note?: string; onDone: () => void }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section class="key-once" aria-labelledby="key-once-title" tabIndex={-1} ref={ref}>
      <h2 id="key-once-title">{t('key.title', { app })}</h2>
      <p class="notice notice-warning"><span aria-hidden="true">⚠ </span>{t('key.once')}</p>
      <label for="key-once-value">{t('key.label')}</label>
      <div class="key-row">
        <input id="key-once-value" class="mono" type="text" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>{t('copy')}</button>
      </div>
      <p role="status" class="muted">{copied === 'yes' ? t('copied') : copied === 'failed' ? t('copy.failed') : ''}</p>
      {note && <p>{note}</p>}
      <button type="button" onClick={onDone}>{t('key.done')}</button>
    </section>
  );
}

export function splitList(value: string): string[] {
  return value.split(/[\s,;]+/).map((s) => s.trim()).filter((s) => s.length > 0);
}
