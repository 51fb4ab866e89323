import { useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useI18n } from '../i18n.tsx';
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

      <section aria-labelledby="renewal-title">
        <h2 id="renewal-title">{t('credential.renewal')}</h2>
        <ol class="steps">{steps.map((s, n) => <li key={n}>{s}</li>)}</ol>
      </section>

      <ConnectLink tenant={c.tenant} credential={c.credential} />
    </>
  );
}
