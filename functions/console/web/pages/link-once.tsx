import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n.tsx';

/** How long a connect link works, in days: the choices offered (the API takes 5 minutes to 30 days). */
export const LINK_DAYS = [1, 7, 14, 30] as const;

/**
 * The connect link just created: its URL shown once, with a copy button and its end of
 * validity; `children` (what else to know about it) come before the button that dismisses it.
 */
export function LinkOnce({ credential, url, expires, onDone, children }: {
  credential: string;
  url: string;
  expires: string;
  onDone: () => void;
  children?: ComponentChildren;
}) {
  const i = useI18n();
  const { t } = i;
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section class="key-once" aria-labelledby="link-once-title" tabIndex={-1} ref={ref}>
      <h3 id="link-once-title">{t('connect.created', { credential })}</h3>
      <p class="notice notice-warning"><span aria-hidden="true">⚠ </span>{t('connect.once')}</p>
      <label for="link-once-value">{t('connect.label')}</label>
      <div class="key-row">
        <input id="link-once-value" class="mono" type="text" readOnly value={url} aria-describedby="link-once-expires" onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>{t('copy')}</button>
      </div>
      <p id="link-once-expires">{t('connect.expires', { date: i.dateTime(expires) })}</p>
      <p role="status" class="muted">{copied === 'yes' ? t('copied') : copied === 'failed' ? t('connect.copy.failed') : ''}</p>
      {children}
      <button type="button" onClick={onDone}>{t('connect.done')}</button>
    </section>
  );
}
