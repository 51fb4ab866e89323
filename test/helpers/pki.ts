import 'reflect-metadata';
import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { keyPair } from './keys.ts';

type WebKey = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys']['privateKey'];

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A small PKI issued at test time: roots, intermediates and leaves with chosen flaws. */
export type Shape = 'rsa2048' | 'rsa1024' | 'rsa3072' | 'rsa4096' | 'ec256' | 'ec384' | 'ec521' | 'ed25519';
export type Digest = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface Issued {
  name: string;
  cert: x509.X509Certificate;
  pem: string;
  der: Uint8Array;
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
  shape: Shape;
}

export interface IssueOptions {
  subject: string;
  issuer?: Issued;
  shape?: Shape;
  digest?: Digest;
  ca?: boolean;
  keyUsage?: x509.KeyUsageFlags | null;
  eku?: string[] | null;
  policies?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Sign with this key instead of the issuer's (a forged certificate). */
  signWith?: Issued;
  /**
   * Replaces the critical basicConstraints that `ca` implies (the keyUsage default still
   * follows `ca`): null leaves the extension out, `{ ca: false }` says not a CA,
   * `pathLength` sets pathLenConstraint.
   */
  basicConstraints?: { ca: boolean; pathLength?: number; critical?: boolean } | null;
  /**
   * Adds subjectKeyIdentifier (this key) and authorityKeyIdentifier (the named issuer's
   * key, this one when self-signed; not `signWith`'s), which `openssl verify -x509_strict` requires.
   */
  keyIdentifiers?: boolean;
  /** More extensions, appended after the others as given (name constraints, SAN, unknown OIDs…). */
  extensions?: x509.Extension[];
}

export const EKU = { clientAuth: '1.3.6.1.5.5.7.3.2', serverAuth: '1.3.6.1.5.5.7.3.1' };
export const KU = x509.KeyUsageFlags;

const extra = new Map<Shape, ReturnType<typeof keyPair>>();
function pairOf(shape: Shape) {
  if (shape === 'rsa2048' || shape === 'rsa1024' || shape === 'ec384' || shape === 'ec521' || shape === 'ec256' || shape === 'ed25519') return keyPair(shape);
  let kp = extra.get(shape);
  if (!kp) {
    const raw = generateKeyPairSync('rsa', { modulusLength: shape === 'rsa3072' ? 3072 : 4096 });
    kp = { ...raw, pem: raw.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    extra.set(shape, kp);
  }
  return kp;
}

function algorithm(shape: Shape, digest: Digest) {
  if (shape.startsWith('rsa')) return { name: 'RSASSA-PKCS1-v1_5', hash: digest };
  if (shape === 'ed25519') return { name: 'Ed25519' };
  const namedCurve = shape === 'ec256' ? 'P-256' : shape === 'ec384' ? 'P-384' : 'P-521';
  return { name: 'ECDSA', namedCurve, hash: digest };
}

async function cryptoKeys(kp: { privateKey: KeyObject; publicKey: KeyObject }, shape: Shape, digest: Digest) {
  const alg = algorithm(shape, digest);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', kp.privateKey.export({ type: 'pkcs8', format: 'der' }), alg, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', kp.publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
  return { privateKey, publicKey, alg };
}

let serial = 1;
export async function issue(o: IssueOptions): Promise<Issued> {
  const shape = o.shape ?? 'rsa2048';
  const kp = pairOf(shape);
  const signer = o.signWith ?? o.issuer;
  const signerShape = signer?.shape ?? shape;
  const digest = o.digest ?? 'SHA-256';
  const own = await cryptoKeys(kp, shape, digest);
  const signing = signer ? await cryptoKeys({ privateKey: signer.privateKey, publicKey: signer.publicKey }, signerShape, digest) : own;
  const extensions: x509.Extension[] = [];
  if (o.basicConstraints === undefined) {
    if (o.ca) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  } else if (o.basicConstraints !== null) {
    const { ca, pathLength, critical = true } = o.basicConstraints;
    extensions.push(new x509.BasicConstraintsExtension(ca, pathLength, critical));
  }
  const ku = o.keyUsage === undefined ? (o.ca ? KU.keyCertSign | KU.cRLSign : KU.digitalSignature) : o.keyUsage;
  if (ku !== null) extensions.push(new x509.KeyUsagesExtension(ku, true));
  if (o.eku) extensions.push(new x509.ExtendedKeyUsageExtension(o.eku));
  if (o.policies?.length) extensions.push(new x509.CertificatePolicyExtension(o.policies));
  if (o.keyIdentifiers) {
    const spki = (k: KeyObject) => new Uint8Array(k.export({ type: 'spki', format: 'der' }));
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(spki(kp.publicKey)));
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spki(o.issuer?.publicKey ?? kp.publicKey)));
  }
  if (o.extensions) extensions.push(...o.extensions);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    subject: o.subject,
    issuer: o.issuer?.name ?? o.subject,
    notBefore: o.notBefore ?? new Date('2026-01-01T00:00:00Z'),
    notAfter: o.notAfter ?? new Date('2028-01-01T00:00:00Z'),
    signingAlgorithm: signing.alg,
    publicKey: own.publicKey as unknown as WebKey,
    signingKey: signing.privateKey as unknown as WebKey,
    extensions,
  });
  return { name: o.subject, cert, pem: cert.toString('pem'), der: new Uint8Array(cert.rawData), privateKey: kp.privateKey, publicKey: kp.publicKey, privatePem: kp.pem, shape };
}

/** PKCS#7 certs-only, as .p7b exports are: DER or PEM. */
export function p7b(certs: Issued[], format: 'der' | 'pem' = 'der'): Uint8Array {
  const collection = new x509.X509Certificates(certs.map((c) => c.cert));
  return format === 'der' ? new Uint8Array(collection.export('raw')) : new TextEncoder().encode(collection.export('pem'));
}

export const pemOf = (...certs: Issued[]) => new TextEncoder().encode(certs.map((c) => c.pem).join('\n'));

/** A root, an intermediate and a leaf, with the leaf's options overridable. */
export async function chorusChain(leaf: Partial<IssueOptions> = {}, names = { root: 'CN=Sesame Root CA, O=Sesame, C=FR', inter: 'CN=Sesame Issuing CA, O=Sesame, C=FR' }) {
  const root = await issue({ subject: names.root, ca: true, shape: 'rsa2048' });
  const inter = await issue({ subject: names.inter, issuer: root, ca: true, shape: 'ec384' });
  const l = await issue({ subject: 'CN=edi.cfa-paris.example, O=CFA Paris, C=FR', issuer: inter, shape: 'rsa2048', keyUsage: KU.digitalSignature | KU.keyEncipherment, eku: [EKU.clientAuth], ...leaf });
  return { root, inter, leaf: l };
}
