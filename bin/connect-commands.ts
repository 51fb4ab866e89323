import type { Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import { SesameError } from '../functions/core/errors.ts';
import { out } from './output.ts';

/** `sesame connect`: a one-time link for a tenant's own administrator to hand one credential over. */
export function addConnectCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  program
    .command('connect <tenant> <credential>')
    .description('create a one-time connect link: the tenant\'s administrator follows the platform\'s steps and hands the credential over; the URL is printed once')
    .option('--fields <list>', 'the fields to ask, comma-separated (default: the platform\'s usual ones)', (v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--valid <duration>', 'how long the link works: e.g. 30m, 12h, 7d; at most 30d', '7d')
    .option('--email <address>', 'also send the link by email (not available yet: give the URL yourself)')
    .addHelpText(
      'after',
      `
The link works once, until --valid ends; Sesame keeps only its hash. Set SESAME_PUBLIC_URL
to the address the client will open (default http://127.0.0.1:8787, \`sesame dev\`).

Examples:
  sesame connect cfa-paris opco-atlas
  sesame connect cfa-paris chorus-piste --fields account_login,account_password --valid 3d
  sesame connect cfa-bxl fla-employer --json`,
    )
    .action(async (tenant: string, credential: string, o: { fields?: string[]; valid: string; email?: string }, cmd: Command) => {
      if (o.email !== undefined) throw new SesameError('invalid_request', '--email is not available yet: send the URL to the client yourself', { details: { field: 'email' } });
      const s = await system(cmd);
      if (!s.connect) throw new SesameError('internal', 'this system has no state store: connect links are not available');
      const link = await s.connect.create({ tenant, credential, ...(o.fields ? { fields: o.fields } : {}), valid: o.valid, createdBy: 'cli' });
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify({ url: link.url, expires_at: link.expires_at }));
        return;
      }
      process.stderr.write(`Connect link for ${link.tenant}/${link.credential} (${link.kind}), asking ${link.fields.join(', ')}; valid until ${link.expires_at}. Shown only now:\n`);
      out(link.url);
    });
}
