import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import type { components } from '../generated/api.ts';
import { useI18n, type Key } from '../i18n.tsx';
import { href } from '../router.ts';
import type { CertificateReportView, CredentialDetail, Finding, UploadVerdict } from '../types.ts';
import { ErrorBox, Loading, PageTitle, StatusBadge, useAsync } from '../ui.tsx';
import { LINK_DAYS, LinkOnce } from './link-once.tsx';
import { ExpiryCell } from './overview.tsx';

const MAX_CERTIFICATE_BYTES = 64 * 1024;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let n = 0; n < bytes.length; n += 0x8000) s += String.fromCharCode(...bytes.subarray(n, n + 0x8000));
  return btoa(s);
}

/** Findings about the end-entity certificate's own key and usages: the validator checks them on it alone. */
const LEAF_CODES = new Set(['key_algorithm', 'key_size', 'curve', 'key_usage', 'extended_key_usage', 'person_certificate', 'key_mismatch']);

function FindingItem({ f, leaf }: { f: Finding; leaf: string | undefined }) {
  const i = useI18n();
  const cert = f.certificate ?? (leaf !== undefined && LEAF_CODES.has(f.code) ? { position: 1, subject: leaf } : undefined);
  return (
    <li>
      {cert && (
        <span class="finding-cert">
          {cert.position === 1 ? i.t('report.leaf') : i.t('report.cert', { n: cert.position })}
          {': '}
          <span class="mono">{cert.subject}</span>
        </span>
      )}
      <span class="finding-text">{i.text(f.message)}</span>
      <span class="sub mono muted">{f.code}</span>
    </li>
  );
}

export function ReportView({ report, headingLevel = 3, version }: { report: CertificateReportView; headingLevel?: 3 | 4; version?: string }) {
  const i = useI18n();
  const { t } = i;
  const H = headingLevel === 3 ? 'h3' : 'h4';
  const good = report.outcome === 'accepted' || report.outcome === 'unchanged';
  const r = report.report;
  return (
    <div class={`report ${good ? 'report-good' : 'report-bad'}`}>
      <p class="verdict">
        <span aria-hidden="true" class="badge-symbol">{good ? '✓' : '⊘'}</span>
        <strong>{t(`outcome.${report.outcome}`)}</strong>
      </p>
      <p class="muted">{t('report.file', { file: report.file, date: i.dateTime(report.processed_at) })}</p>
      {version && <p>{t('report.version', { version })}</p>}
      {report.reason && <p>{i.text(report.reason)}</p>}
      {r && r.errors.length > 0 && (
        <>
          <H>{t('report.errors')}</H>
          <ul class="findings findings-error">{r.errors.map((f, n) => <FindingItem key={n} f={f} leaf={r.certificates[0]?.subject} />)}</ul>
        </>
      )}
      {r && r.warnings.length > 0 && (
        <>
          <H>{t('report.warnings')}</H>
          <ul class="findings findings-warning">{r.warnings.map((f, n) => <FindingItem key={n} f={f} leaf={r.certificates[0]?.subject} />)}</ul>
        </>
      )}
      {r && r.certificates.length > 0 && (
        <details>
          <summary>{t('report.certificates')} ({r.certificates.length})</summary>
          <ol class="certs">
            {r.certificates.map((c) => (
              <li key={c.sha256}>
                <span class="mono">{c.subject}</span>
                <span class="sub">{t('report.issuer')}: <span class="mono">{c.issuer}</span></span>
                <span class="sub">{t('report.validity', { from: i.date(c.not_before), to: i.date(c.not_after) })}</span>
                <span class="sub">
                  {t('report.key')}: {c.key.type.toUpperCase()} {c.key.size ?? c.key.curve ?? ''}, {c.signature_algorithm}
                </span>
              </li>
            ))}
          </ol>
        </details>
      )}
    </div>
  );
}

function Upload({ tenant, credential, onDone }: { tenant: string; credential: string; onDone: (v: UploadVerdict) => void }) {
  const i = useI18n();
  const { t } = i;
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [verdict, setVerdict] = useState<UploadVerdict | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const input = useRef<HTMLInputElement>(null);

  const send = async (file: File) => {
    setVerdict(undefined);
    setError(undefined);
    if (file.size > MAX_CERTIFICATE_BYTES) {
      setError(new Error(t('upload.toolarge')));
      return;
    }
    setBusy(file.name);
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const v = await api.uploadCertificate(tenant, credential, file.name, base64(bytes));
      setVerdict(v);
      onDone(v);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
      if (input.current) input.current.value = '';
    }
  };

  return (
    <section aria-labelledby="upload-title" class="upload">
      <h3 id="upload-title">{t('upload.title')}</h3>
      <div
        class={`dropzone${over ? ' dropzone-over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const file = e.dataTransfer?.files[0];
          if (file) void send(file);
        }}
      >
        <p id="upload-hint">{t('upload.hint')}</p>
        <label for="certificate-file">{t('upload.choose')}</label>
        <input
          id="certificate-file"
          ref={input}
          type="file"
          accept=".cer,.crt,.pem,.der,.p7b,.p7c"
          aria-describedby="upload-hint"
          disabled={busy !== undefined}
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (file) void send(file);
          }}
        />
      </div>
      <div aria-live="polite" class="upload-result">
        {busy && <p role="status">{t('upload.sending', { file: busy })}</p>}
        {verdict && (
          <section aria-labelledby="verdict-title" class="verdict-box">
            <h4 id="verdict-title">{t('upload.verdict')}</h4>
            <ReportView report={verdict} headingLevel={4} {...(verdict.version ? { version: verdict.version } : {})} />
          </section>
        )}
      </div>
      {error !== undefined && <ErrorBox error={error} />}
    </section>
  );
}

function ConnectLink({ tenant, credential }: { tenant: string; credential: string }) {
  const { t } = useI18n();
  const [days, setDays] = useState<number>(7);
  const [busy, setBusy] = useState(false);
  const [link, setLink] = useState<{ url: string; expires_at: string } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setLink(undefined);
    try {
      setLink(await api.createConnectLink(tenant, credential, { valid: `${days}d` }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="connect-title">
      <h2 id="connect-title">{t('connect.title')}</h2>
      <p id="connect-intro">{t('connect.intro')}</p>
      <form class="form" onSubmit={create} aria-describedby="connect-intro">
        <div class="field-row">
          <div class="field">
            <label for="connect-valid">{t('connect.valid')}</label>
            <select id="connect-valid" value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
              {LINK_DAYS.map((d) => <option key={d} value={String(d)}>{d === 1 ? t('connect.day') : t('connect.days', { n: d })}</option>)}
            </select>
          </div>
          <div class="field field-action">
            <button type="submit" disabled={busy}>{t('connect.create')}</button>
          </div>
        </div>
      </form>
      <div aria-live="polite">
        {busy && <p role="status">{t('connect.creating')}</p>}
      </div>
      {link && <LinkOnce credential={credential} url={link.url} expires={link.expires_at} onDone={() => setLink(undefined)} />}
      {error !== undefined && <ErrorBox error={error} />}
    </section>
  );
}

type LastCheck = components['schemas']['LastCheck'];
type HealthResult = components['schemas']['HealthResult'];
type CheckStatus = LastCheck['status'];
type KeyView = components['schemas']['KeyView'];

/** A symbol per check result, so that it never rests on colour alone. */
const CHECK_SYMBOL: Record<CheckStatus, string> = { ok: '✓', failed: '✕', not_testable: '–' };

function CheckBadge({ status }: { status: CheckStatus }) {
  const { t } = useI18n();
  return (
    <span class={`badge badge-check-${status}`}>
      <span class="badge-symbol" aria-hidden="true">{CHECK_SYMBOL[status]}</span>
      {t(`check.status.${status}` as Key)}
    </span>
  );
}

/** A date the API may give as `none` (nothing was recorded) rather than a date. */
const isDate = (v: string | undefined | null): v is string => !!v && !Number.isNaN(Date.parse(v));

function CheckResult({ result }: { result: HealthResult }) {
  const i = useI18n();
  const { t } = i;
  const good = result.status === 'ok';
  return (
    <div class={`report ${good ? 'report-good' : result.status === 'failed' ? 'report-bad' : 'report-neutral'}`}>
      <p class="verdict">
        <span aria-hidden="true" class="badge-symbol">{CHECK_SYMBOL[result.status]}</span>
        <strong>{t(`check.status.${result.status}` as Key)}</strong>
      </p>
      <p>{i.text(result.message)}</p>
      {isDate(result.expires_at) && (
        <p>
          {t('check.learned', { date: i.date(result.expires_at) })}
          {result.expiry_updated && ' '}
          {result.expiry_updated && (isDate(result.previous_expires_at) ? t('check.learned.updated', { date: i.date(result.previous_expires_at) }) : t('check.learned.first'))}
        </p>
      )}
      <p class="muted">{t('check.at', { date: i.dateTime(result.checked_at) })}</p>
    </div>
  );
}

/** The last health check and a button that checks now (the same check as `sesame credential test` and the daily run). */
function Check({ tenant, credential, last, onChecked }: { tenant: string; credential: string; last: LastCheck | null; onChecked: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<HealthResult | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await api.testCredential(tenant, credential));
      onChecked();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="check-title" class="card check-card">
      <h2 id="check-title">{t('check.title')}</h2>
      <p class="muted" id="check-intro">{t('check.intro')}</p>
      <h3 class="h-small">{t('check.last')}</h3>
      {last === null ? (
        <p class="muted">{t('check.never')}</p>
      ) : (
        <dl class="facts last-check">
          <dt>{t('check.last.result')}</dt>
          <dd>
            <CheckBadge status={last.status} />
            {last.stale && <> <span class="stale">{t('check.stale')}</span></>}
          </dd>
          <dt>{t('check.last.at')}</dt>
          <dd>{i.dateTime(last.at)}</dd>
          {last.reason && (
            <>
              <dt>{t('check.last.reason')}</dt>
              {/* Recorded from the platform's answer in English: a tag holds one language. */}
              <dd class="check-reason" lang="en">{last.reason}</dd>
            </>
          )}
        </dl>
      )}
      <p>
        <button type="button" class="primary" onClick={run} disabled={busy} aria-describedby="check-intro">{t('check.run')}</button>
      </p>
      <div aria-live="polite" class="check-live">
        {busy && <p role="status">{t('check.running')}</p>}
        {result && (
          <section aria-labelledby="check-result-title" class="verdict-box">
            <h3 id="check-result-title" class="h-small">{t('check.result')}</h3>
            <CheckResult result={result} />
          </section>
        )}
      </div>
      {error !== undefined && <ErrorBox error={error} />}
    </section>
  );
}

/** PEM text to the DER bytes a .cer file holds (what Chaman takes); null without a certificate in it. */
function pemToDer(pem: string): Uint8Array<ArrayBuffer> | null {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m?.[1]) return null;
  let bin: string;
  try {
    bin = atob(m[1].replace(/\s+/g, ''));
  } catch {
    return null;
  }
  const der = new Uint8Array(new ArrayBuffer(bin.length));
  for (let n = 0; n < bin.length; n++) der[n] = bin.charCodeAt(n);
  return der;
}

/** The next key's certificate as a .cer download, made in the browser: nothing is fetched again. */
function CertificateDownload({ pem, filename }: { pem: string; filename: string }) {
  const { t } = useI18n();
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    const der = pemToDer(pem);
    if (!der) {
      setUrl(undefined);
      return;
    }
    const made = URL.createObjectURL(new Blob([der], { type: 'application/pkix-cert' }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [pem]);
  if (!url) return <p class="notice notice-error"><StepText text={t('rotation.download.none')} /></p>;
  return (
    <p>
      <a class="button-link" href={url} download={filename}>
        <span aria-hidden="true">⤓ </span>
        {t('rotation.download')}
      </a>{' '}
      <span class="mono muted">{filename}</span>
    </p>
  );
}

/** Inline `code` in a step (a command) shown as code. */
function StepText({ text }: { text: string }) {
  const parts = text.split('`');
  return <>{parts.map((p, n) => (n % 2 === 1 ? <code key={n}>{p}</code> : p))}</>;
}

type Steps = { fr: string[]; en: string[] };
/** The steps an answer carries (`steps`, beside the keys: the document leaves them open). */
const stepsOf = (v: unknown): Steps | undefined => {
  const s = v as Partial<Record<'fr' | 'en', unknown>> | null | undefined;
  return s && Array.isArray(s.fr) && Array.isArray(s.en) ? (s as Steps) : undefined;
};
const fingerprintOf = (k: KeyView): string | null => (typeof k['certificate_sha256'] === 'string' ? k['certificate_sha256'] : null);

function Fingerprint({ k }: { k: KeyView }) {
  const { t } = useI18n();
  const sha = fingerprintOf(k);
  if (!sha) return <span class="muted">{t('rotation.nocert')}</span>;
  return (
    <code class="fingerprint" title={sha}>
      <span aria-hidden="true">{sha.slice(0, 16)}…</span>
      <span class="visually-hidden">{sha}</span>
    </code>
  );
}

function KeyRow({ role, k }: { role: 'active' | 'next' | 'previous'; k: KeyView | null }) {
  const i = useI18n();
  const { t } = i;
  return (
    <tr class={k ? undefined : 'key-absent'}>
      <th scope="row">
        {t(`rotation.${role}` as Key)}
        <span class="sub">{t(`rotation.${role}.hint` as Key)}</span>
      </th>
      {k ? (
        <>
          <td><Fingerprint k={k} /></td>
          <td>{k.key} <span class="mono muted">{k.alg}</span></td>
          <td>{k.not_after ? i.date(k.not_after) : '—'}</td>
          <td>{k.created_at ? t('rotation.created', { date: i.dateTime(k.created_at) }) : k.replaced_at ? t('rotation.replaced', { date: i.dateTime(k.replaced_at) }) : '—'}</td>
        </>
      ) : (
        <td colSpan={4} class="muted">{t('rotation.none')}</td>
      )}
    </tr>
  );
}

type Step = 'next' | 'activate' | 'retire' | 'force';
type Outcome = { good: boolean; text: string; steps?: Steps; offerForce?: boolean };

/** Why the platform refused, from the problem answer: its status and OAuth error code, never more. */
function upstreamWhy(err: ApiError): string {
  const p = err.problem;
  const parts = [p.upstream_status, p.upstream_error].filter((v) => v !== undefined && v !== '');
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}

/**
 * FLA key rotation: a next key beside the active one, its certificate added to the same
 * Chaman account, the switch once a token is obtained with it, then the old key retired.
 * Shows fingerprints and dates only; the keys themselves never reach the browser.
 */
function Rotation({ tenant, credential, onChanged }: { tenant: string; credential: string; onChanged: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [state, reload] = useAsync(() => api.rotation(tenant, credential), [tenant, credential]);
  const [busy, setBusy] = useState<Step | undefined>(undefined);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  // The Chaman steps come with the answer that made the next key; kept while that key waits.
  const [addSteps, setAddSteps] = useState<Steps | undefined>(undefined);
  const said = useRef<HTMLDivElement>(null);
  // The button pressed may be gone once the keys change: the outcome takes the focus instead.
  useEffect(() => {
    if (outcome) said.current?.focus();
  }, [outcome]);

  const run = async (step: Step) => {
    setBusy(step);
    setError(undefined);
    setOutcome(undefined);
    try {
      if (step === 'next') {
        const r = await api.rotationNext(tenant, credential);
        const steps = stepsOf(r['steps']);
        setAddSteps(steps);
        setOutcome({ good: true, text: t('rotation.prepared') });
      } else if (step === 'activate') {
        const r = await api.rotationActivate(tenant, credential);
        setAddSteps(undefined);
        const dropped = r['dropped'] as KeyView | null | undefined;
        const gone = dropped ? fingerprintOf(dropped) : null;
        setOutcome({ good: true, text: t('rotation.activated') + (dropped ? ` ${t('rotation.dropped', { sha: gone ? `${gone.slice(0, 16)}…` : '' })}` : '') });
      } else {
        const r = await api.rotationRetire(tenant, credential, step === 'force');
        const steps = stepsOf(r['steps']);
        setOutcome({ good: true, text: t(step === 'force' ? 'rotation.retired.forced' : 'rotation.retired'), ...(steps ? { steps } : {}) });
      }
      reload();
      onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.status === 502 && step === 'activate') {
        setOutcome({ good: false, text: t('rotation.activate.refused', { why: upstreamWhy(err) }) });
      } else if (err instanceof ApiError && err.status === 502 && step === 'retire') {
        setOutcome({ good: false, text: t('rotation.retire.refused', { why: upstreamWhy(err) }), offerForce: true });
      } else if (err instanceof ApiError && err.status === 503) {
        setOutcome({ good: false, text: t('rotation.unavailable') });
      } else {
        setError(err);
        // A 409 says the keys are not what this page showed: show them as they are.
        if (err instanceof ApiError && err.status === 409) reload();
      }
    } finally {
      setBusy(undefined);
    }
  };

  const title = <h2 id="rotation-title">{t('rotation.title')}</h2>;
  if (state.state === 'loading') return <section aria-labelledby="rotation-title">{title}<Loading /></section>;
  if (state.state === 'error') return <section aria-labelledby="rotation-title">{title}<ErrorBox error={state.error} retry={reload} /></section>;
  const r = state.value;
  const steps = addSteps?.[i.lang];
  const disabled = busy !== undefined;
  return (
    <section aria-labelledby="rotation-title" class="rotation">
      {title}
      <p class="muted">{t('rotation.intro')}</p>
      <div class="table-wrap">
        <table class="grid keys">
          <caption class="visually-hidden">{t('rotation.caption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('rotation.col.role')}</th>
              <th scope="col">{t('rotation.col.fingerprint')}</th>
              <th scope="col">{t('rotation.col.key')}</th>
              <th scope="col">{t('rotation.col.valid')}</th>
              <th scope="col">{t('rotation.col.date')}</th>
            </tr>
          </thead>
          <tbody>
            <KeyRow role="active" k={r.active} />
            <KeyRow role="next" k={r.next} />
            <KeyRow role="previous" k={r.previous} />
          </tbody>
        </table>
      </div>

      {r.next && (
        <section aria-labelledby="rotation-chaman-title" class="card rotation-next">
          <h3 id="rotation-chaman-title">{t('rotation.chaman')}</h3>
          {r.next_certificate_pem && <CertificateDownload pem={r.next_certificate_pem} filename={`${r.tenant}-${r.credential}-next.cer`} />}
          {steps ? (
            <ol class="steps">{steps.map((s, n) => <li key={n}><StepText text={s} /></li>)}</ol>
          ) : (
            <p>{r.client_id ? t('rotation.chaman.account', { client: r.client_id }) : t('rotation.chaman.generic')}</p>
          )}
        </section>
      )}

      <div class="rotation-actions">
        {!r.next && <button type="button" class="primary" disabled={disabled} onClick={() => void run('next')}>{t('rotation.prepare')}</button>}
        {r.next && <button type="button" class="primary" disabled={disabled} onClick={() => void run('activate')}>{t('rotation.activate')}</button>}
        {r.previous && <button type="button" disabled={disabled} onClick={() => void run('retire')}>{t('rotation.retire')}</button>}
      </div>
      <div aria-live="polite">
        {busy && <p role="status">{t(`rotation.busy.${busy}` as Key)}</p>}
      </div>
      {outcome && (
        <div ref={said} tabIndex={-1} class={`notice rotation-outcome ${outcome.good ? 'notice-ok' : 'notice-warning'}`}>
          <p>
            <span aria-hidden="true">{outcome.good ? '✓ ' : '⚠ '}</span>
            {outcome.text}
          </p>
          {outcome.steps && (
            <>
              <p>{t('rotation.retired.chaman')}</p>
              <ol class="steps">{outcome.steps[i.lang].map((s, n) => <li key={n}><StepText text={s} /></li>)}</ol>
            </>
          )}
          {outcome.offerForce && r.previous && (
            <>
              <p id="rotation-force-hint">{t('rotation.force.hint')}</p>
              <button type="button" class="danger" disabled={disabled} aria-describedby="rotation-force-hint" onClick={() => void run('force')}>{t('rotation.force')}</button>
            </>
          )}
        </div>
      )}
      {error !== undefined && <ErrorBox error={error} />}
    </section>
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function Credential({ tenant, credential }: { tenant: string; credential: string }) {
  const i = useI18n();
  const { t } = i;
  const [data, reload] = useAsync<CredentialDetail>(() => api.credential(tenant, credential), [tenant, credential]);
  // The verdict of an upload made here is shown by the upload form: not twice.
  const [uploaded, setUploaded] = useState<string | undefined>(undefined);
  const title = `${tenant} / ${credential}`;
  if (data.state === 'loading') return <><PageTitle>{title}</PageTitle><Loading /></>;
  if (data.state === 'error') return <><PageTitle>{title}</PageTitle><ErrorBox error={data.error} retry={reload} /></>;
  const c = data.value;
  const secret = new Set(c.secret_fields);
  const steps = c.renewal[i.lang];
  const alertText = (level: string) =>
    level === 'none' ? t('alert.none') : level === 'expired' ? t('alert.expired') : /^\d+$/.test(level) ? t('alert.days', { n: level }) : t('alert.other', { level });
  return (
    <>
      <p class="crumb"><a href={href([], { tenant: c.tenant })}>← {t('credential.back')}</a></p>
      <PageTitle>
        <span class="title-main">{c.credential}</span>
        <span class="title-sub">{c.tenant_name ?? c.tenant}</span>
      </PageTitle>
      <div class="cols">
        <section aria-labelledby="facts-title" class="card">
          <h2 id="facts-title">{t('credential.facts')}</h2>
          <dl class="facts">
            <dt>{t('credential.status')}</dt>
            <dd><StatusBadge status={c.status} /></dd>
            <dt>{t('credential.expires')}</dt>
            <dd><ExpiryCell item={c} /></dd>
            <dt>{t('credential.tenant')}</dt>
            <dd>{c.tenant_name ?? c.tenant} <span class="mono muted">({c.tenant})</span></dd>
            <dt>{t('credential.kind')}</dt>
            <dd class="mono">{c.kind}</dd>
            <dt>{t('credential.platform')}</dt>
            <dd>{i.text(c.platform_title)}</dd>
            <dt>{t('credential.environment')}</dt>
            <dd>{c.environment}</dd>
          </dl>
        </section>
        <section aria-labelledby="expiries-title" class="card">
          <h2 id="expiries-title">{t('credential.expiries')}</h2>
          {c.expiries.length === 0 ? (
            <p class="muted">{t('credential.noexpiry')}</p>
          ) : (
            <ul class="plain">
              {c.expiries.map((e, n) => <li key={n}><strong>{i.date(e.at)}</strong> — {i.text(e.what)}</li>)}
            </ul>
          )}
          <h2 id="alerts-title">{t('credential.alerts')}</h2>
          {c.alerts.length === 0 ? (
            <p class="muted">{t('credential.noalerts')}</p>
          ) : (
            <ul class="plain">
              {c.alerts.map((a, n) => <li key={n}>{alertText(a.level)} — {i.dateTime(a.at)}</li>)}
            </ul>
          )}
        </section>
      </div>

      <Check tenant={c.tenant} credential={c.credential} last={c.last_check} onChecked={reload} />

      <section aria-labelledby="fields-title">
        <h2 id="fields-title">{t('credential.fields')}</h2>
        <table class="grid fields">
          <thead><tr><th scope="col">{t('credential.field')}</th><th scope="col">{t('credential.value')}</th></tr></thead>
          <tbody>
            {Object.entries(c.fields).map(([k, v]) => (
              <tr key={k}>
                <th scope="row" class="mono">{k}</th>
                <td>
                  {secret.has(k) ? (
                    <span class="redacted">{show(v)} <span class="muted">({t('credential.secret')})</span></span>
                  ) : (
                    <span class="mono wrap">{show(v)}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="versions-title">
        <h2 id="versions-title">{t('credential.versions')}</h2>
        <table class="grid">
          <thead>
            <tr><th scope="col">{t('credential.version')}</th><th scope="col">{t('credential.stage')}</th><th scope="col">{t('credential.created')}</th></tr>
          </thead>
          <tbody>
            {c.versions.map((v) => (
              <tr key={v.version}>
                <td class="mono">{v.version}</td>
                <td>{t(v.stage === 'current' ? 'stage.current' : 'stage.previous')}</td>
                <td>{i.dateTime(v.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      {(c.certificate.accepts || c.certificate.report) && (
        <section aria-labelledby="cert-title">
          <h2 id="cert-title">{t('credential.certificate')}</h2>
          {c.certificate.report && c.certificate.report.processed_at !== uploaded && (
            <>
              <h3>{t('credential.report')}</h3>
              <ReportView report={c.certificate.report} headingLevel={4} />
            </>
          )}
          {!c.certificate.report && <p class="muted">{t('credential.noreport')}</p>}
          {c.certificate.accepts && (
            <Upload
              tenant={c.tenant}
              credential={c.credential}
              onDone={(v) => {
                setUploaded(v.processed_at);
                reload();
              }}
            />
          )}
        </section>
      )}

      {c.kind === 'fla' && <Rotation tenant={c.tenant} credential={c.credential} onChanged={reload} />}

      <section aria-labelledby="renewal-title">
        <h2 id="renewal-title">{t('credential.renewal')}</h2>
        <ol class="steps">{steps.map((s, n) => <li key={n}>{s}</li>)}</ol>
      </section>

      <ConnectLink tenant={c.tenant} credential={c.credential} />
    </>
  );
}
