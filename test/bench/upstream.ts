import { createPublicKey } from 'node:crypto';
import { startOAuthServer } from '../../functions/local/oauth-server.ts';

/**
 * The upstream OAuth2 server of the benchmark, in a process of its own: neither the
 * load generator nor the broker under test shares its event loop. Reads the client's
 * public key on stdin; `GET /bench/token-requests` answers how many token requests it got.
 */
const chunks: Buffer[] = [];
for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
const publicKey = createPublicKey(Buffer.concat(chunks).toString('utf8'));
const oauth = await startOAuthServer({
  clients: [{ client_id: 'bench', auth: 'private_key_jwt', publicKey }],
  tokenTtlSeconds: 3600,
  wrap: (next) => (req, res) => {
    if (req.url === '/bench/token-requests') res.end(String(oauth.tokenRequests()));
    else next(req, res);
  },
});
process.stdout.write(`${JSON.stringify({ tokenEndpoint: oauth.tokenEndpoint, countUrl: `${oauth.issuer}/bench/token-requests` })}\n`);
