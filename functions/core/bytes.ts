/**
 * The one place where PEM, base64 and DER text become bytes, so every parser
 * downstream receives the same thing whatever the operator pasted.
 */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  /** Undefined when the body is not base64 (or holds headers such as Proc-Type). */
  der: Uint8Array | undefined;
}

/** Every BEGIN/END section of a text, whatever its label. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = (m[2] ?? '').replace(/[\r\n\t ]/g, '');
    const ok = /^[A-Za-z0-9+/]*={0,2}$/.test(body) && body.length % 4 === 0 && body.length > 0;
    blocks.push({ label: m[1] ?? '', der: ok ? new Uint8Array(Buffer.from(body, 'base64')) : undefined });
  }
  return blocks;
}

/** Labels of BEGIN lines that have no matching END line. */
export function unterminatedPemLabels(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)) {
    if (!text.includes(`-----END ${m[1]}-----`, m.index)) out.push(m[1] ?? '');
  }
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
