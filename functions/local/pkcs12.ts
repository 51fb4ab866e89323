import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { pemBlocks, toPem } from '../core/bytes.ts';
import { SesameError } from '../core/errors.ts';

/**
 * Reads a PKCS#12 file with the `openssl` command: Windows and older exports use
 * RC2/3DES, which WebCrypto cannot decrypt. The password goes through a pipe (fd 3),
 * never an argument; the output stays in memory.
 */
function opensslPkcs12(file: string, password: string, legacy: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = ['pkcs12', ...(legacy ? ['-legacy'] : []), '-in', file, '-nodes', '-passin', 'fd:3'];
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', (err) => reject(new SesameError('invalid_request', `cannot run openssl (${(err as NodeJS.ErrnoException).code}): it is needed to read PKCS#12 files`)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    const pipe = child.stdio[3] as NodeJS.WritableStream;
    pipe.on('error', () => undefined);
    pipe.end(`${password}\n`);
  });
}

export async function readPkcs12(file: string, password: string): Promise<{ privateKeyPem: string; certificatesPem: string }> {
  let r = await opensslPkcs12(file, password, false);
  if (r.code !== 0 && /unsupported|RC2|legacy/i.test(r.stderr)) r = await opensslPkcs12(file, password, true);
  if (r.code !== 0) {
    if (/mac verify|invalid password/i.test(r.stderr)) throw new SesameError('invalid_request', `wrong password for ${file}`);
    throw new SesameError('invalid_request', `${file} is not a readable PKCS#12 file`);
  }
  const blocks = pemBlocks(r.stdout);
  const keys = blocks.filter((b) => /PRIVATE KEY/.test(b.label) && b.der);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE' && b.der);
  if (keys.length !== 1) throw new SesameError('invalid_request', `${file} holds ${keys.length} private keys: expected exactly one`);
  if (certs.length === 0) throw new SesameError('invalid_request', `${file} holds no certificate`);
  let privateKeyPem: string;
  try {
    const key = createPrivateKey({ key: Buffer.from(keys[0]?.der as Uint8Array), format: 'der', type: keys[0]?.label === 'PRIVATE KEY' ? 'pkcs8' : keys[0]?.label === 'RSA PRIVATE KEY' ? 'pkcs1' : 'sec1' });
    privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    throw new SesameError('invalid_request', `the private key in ${file} cannot be read`);
  }
  return { privateKeyPem, certificatesPem: certs.map((c) => toPem('CERTIFICATE', c.der as Uint8Array)).join('') };
}
