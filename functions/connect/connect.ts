import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Connect } from '../core/connect.ts';
import { MAX_CERTIFICATE_BYTES } from '../core/certificates/profile.ts';
import { describeError } from '../core/errors.ts';
import type { Log } from '../core/ports.ts';
import { CONNECT_CSS, CONNECT_CSS_PATH, errorPage, gonePage, linkPage, PAGE_HEADERS, pickLang, storedPage, throttledPage, type Lang } from './page.ts';

/**
 * The connect function (HTTP API, payload 2.0), unwrapped: no login, the link is the
 * capability. `GET /connect/{token}` the page, `POST /connect/{token}` a submission
 * (urlencoded, or multipart for a certificate file), `GET /connect/{token}/certificate.cer`
 * FLA's generated certificate. Unknown, used and expired links get one and the same 404
 * page. Nothing from the path or the body is ever logged.
 */
export const CONNECT_PREFIX = '/connect/';
/** A certificate of at most MAX_CERTIFICATE_BYTES, plus the multipart envelope. */
export const CONNECT_MAX_BODY_BYTES = MAX_CERTIFICATE_BYTES + 16 * 1024;
const FORM_MAX_BYTES = 16 * 1024;

const PATH = /^\/connect\/([^/]+)(\/certificate\.cer)?$/;

type Result = APIGatewayProxyStructuredResultV2 & { headers: Record<string, string> };

const html = (status: number, body: string, extra: Record<string, string> = {}): Result => ({ statusCode: status, headers: { ...PAGE_HEADERS, ...extra }, body });

const header = (event: APIGatewayProxyEventV2, name: string): string | undefined => {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name && typeof v === 'string') return v;
  return undefined;
};

/** The submitted fields and file; undefined when the body cannot be read as a form. */
async function readForm(event: APIGatewayProxyEventV2): Promise<{ fields: Record<string, string>; file?: { name: string; bytes: Uint8Array } } | undefined> {
  const bytes = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const type = (header(event, 'content-type') ?? '').toLowerCase();
  const fields: Record<string, string> = {};
  if (type.startsWith('application/x-www-form-urlencoded')) {
    if (bytes.length > FORM_MAX_BYTES) return undefined;
    for (const [k, v] of new URLSearchParams(bytes.toString('utf8'))) if (!(k in fields)) fields[k] = v;
    return { fields };
  }
  if (type.startsWith('multipart/form-data')) {
    if (bytes.length > CONNECT_MAX_BODY_BYTES) return undefined;
    let form: FormData;
    try {
      // The platform's own multipart parser (undici), as a browser would build the form.
      form = await new Request('http://connect.invalid/', { method: 'POST', headers: { 'content-type': header(event, 'content-type') as string }, body: bytes }).formData();
    } catch {
      return undefined;
    }
    let file: { name: string; bytes: Uint8Array } | undefined;
    for (const [k, v] of form) {
      if (typeof v === 'string') {
        if (!(k in fields)) fields[k] = v;
      } else if (!file && v.size > 0) {
        file = { name: v.name, bytes: new Uint8Array(await v.arrayBuffer()) };
      }
    }
    return { fields, ...(file ? { file } : {}) };
  }
  return undefined;
}

export function makeConnectHandler(connect: Connect | undefined, log: Log) {
  return async (event: APIGatewayProxyEventV2): Promise<Result> => {
    const method = event.requestContext.http.method;
    const path = event.rawPath;
    const lang: Lang = pickLang(event.queryStringParameters?.lang, header(event, 'accept-language'));
    if (path === CONNECT_CSS_PATH) {
      if (method !== 'GET' && method !== 'HEAD') return { statusCode: 405, headers: { allow: 'GET, HEAD' }, body: '' };
      return { statusCode: 200, headers: { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' }, body: CONNECT_CSS };
    }
    const m = PATH.exec(path);
    if (!m || !connect) return html(404, gonePage(lang));
    const token = m[1] as string;
    const self = `/connect/${token}`;
    const gone = () => html(404, gonePage(lang));
    try {
      if (m[2]) {
        if (method !== 'GET' && method !== 'HEAD') return { statusCode: 405, headers: { allow: 'GET, HEAD' }, body: '' };
        const cert = await connect.certificate(token);
        if (!cert) return gone();
        return {
          statusCode: 200,
          headers: {
            'content-type': 'application/pkix-cert',
            'content-disposition': `attachment; filename="${cert.fileName}"`,
            'cache-control': 'no-store',
            'referrer-policy': 'no-referrer',
            'x-content-type-options': 'nosniff',
          },
          body: Buffer.from(cert.der).toString('base64'),
          isBase64Encoded: true,
        };
      }
      if (method === 'GET' || method === 'HEAD') {
        const view = await connect.view(token);
        return view ? html(200, linkPage(view, lang, { path: self })) : gone();
      }
      if (method !== 'POST') return { statusCode: 405, headers: { ...PAGE_HEADERS, allow: 'GET, HEAD, POST' }, body: gonePage(lang) };
      const form = await readForm(event);
      if (!form) {
        const view = await connect.view(token);
        if (!view) return gone();
        return html(400, linkPage(view, lang, { path: self, error: { fr: 'Le formulaire n’a pas pu être lu (trop grand, ou d’un type inattendu). Réessayez depuis cette page.', en: 'The form could not be read (too large, or of an unexpected type). Try again from this page.' } }));
      }
      const result = await connect.submit(token, { ...form, source: event.requestContext.http.sourceIp });
      switch (result.status) {
        case 'gone':
          return gone();
        case 'throttled':
          return html(429, throttledPage(lang, result.retryAfter), { 'retry-after': String(result.retryAfter) });
        case 'invalid':
        case 'check_failed':
          return html(422, linkPage(result.view, lang, { path: self, error: result.message, ...(result.status === 'invalid' && result.report ? { report: result.report } : {}) }));
        case 'stored':
          return html(200, storedPage(result.view, lang, result.check, result.report));
      }
    } catch (err) {
      log.error('connect request failed', describeError(err));
      return html(500, errorPage(lang));
    }
  };
}
