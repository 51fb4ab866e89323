import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback token endpoint answering from a script, for the fault cases a real
 * OAuth server will not produce on demand (503s, hangs, odd bodies).
 */
export type Step =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { hang: true }
  | { destroy: true };

export interface ScriptedServer {
  url: string;
  requests: { method: string; url: string; form: URLSearchParams; headers: IncomingMessage['headers'] }[];
  /** Steps consumed in order; the last one repeats. */
  script(steps: Step[]): void;
  close(): Promise<void>;
}

export const tokenBody = (token: string, expires_in?: number) => ({ access_token: token, token_type: 'Bearer', ...(expires_in ? { expires_in } : {}) });

export async function startScriptedServer(initial: Step[] = [{ status: 200, body: tokenBody('t-1', 3600) }]): Promise<ScriptedServer> {
  let steps = initial;
  let index = 0;
  const requests: ScriptedServer['requests'] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
      const step = steps[Math.min(index, steps.length - 1)] as Step;
      index += 1;
      if ('hang' in step) {
        hanging.push(res);
        return;
      }
      if ('destroy' in step) {
        req.socket.destroy();
        return;
      }
      const body = typeof step.body === 'string' ? step.body : JSON.stringify(step.body ?? {});
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    script(next) {
      steps = next;
      index = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const h of hanging) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
