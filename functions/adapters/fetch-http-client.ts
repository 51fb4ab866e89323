import { SesameError } from '../core/errors.ts';
import type { HttpClient, HttpRequest, HttpResponse } from '../core/ports.ts';

const MAX_RESPONSE_BYTES = 64 * 1024;

/** HttpClient over the runtime's fetch, with a per-request timeout and a bounded body. */
export class FetchHttpClient implements HttpClient {
  async request(req: HttpRequest): Promise<HttpResponse> {
    const host = new URL(req.url).host;
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: AbortSignal.timeout(req.timeoutMs),
        redirect: 'manual',
      });
      const body = await readBounded(res);
      return { status: res.status, headers: Object.fromEntries(res.headers), body };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const reason = e.name === 'TimeoutError' ? `timed out after ${req.timeoutMs} ms` : (e.cause?.code ?? e.name);
      throw new SesameError('upstream_unavailable', `could not reach ${host}: ${reason}`, { cause: err });
    }
  }
}

async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await res.body.cancel().catch(() => undefined);
      break;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
