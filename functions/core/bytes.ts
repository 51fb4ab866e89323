/**
 * The one place where PEM, base64 and DER text become bytes, so every parser
 * downstream receives the same thing whatever the operator pasted.
 */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = (m[2] ?? '').replace(/[\r\n\t ]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) continue;
    blocks.push({ label: m[1] ?? '', der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  return blocks;
}
