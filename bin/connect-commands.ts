import type { Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import { SesameError } from '../functions/core/errors.ts';
import { UsageError } from './cert-commands.ts';
import { out } from './output.ts';

/** `--set name=value`, repeatable, into one object; a name given twice is a mistake, said as such. */
function collectSetting(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  // The value is not repeated: a secret typed here by mistake stays off the terminal and the logs.
  if (at <= 0) throw new UsageError('--set takes name=value, e.g. base_url=https://…: this one has no "name="');
  const name = value.slice(0, at).trim();
  if (Object.hasOwn(previous, name)) throw new UsageError(`--set ${name} is given twice`);
  return { ...previous, [name]: value.slice(at + 1).trim() };
}

/** `sesame connect`: a one-time link for a tenant's own administrator to hand one credential over. */
export function addConnectCommands(program: Command, system: (cmd: Command) => Promise<System>) {
  program
    .command('connect <tenant> <credential>')
    .description('create a one-time connect link: the tenant\'s administrator follows the platform\'s steps and hands the credential over; the URL is printed once')
    .option('--fields <list>', 'the fields to ask, comma-separated (default: the platform\'s usual ones)', (v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--valid <duration>', 'how long the link works: e.g. 30m, 12h, 7d; at most 30d', '7d')
    .option('--environment <env>', 'for a credential that does not exist yet: production, acceptance or sandbox (default: the platform\'s first)')
    .option('--set <name=value>', 'a non-secret setting of the credential, e.g. base_url=https://… (repeatable); never a secret: those are the client\'s to type', collectSetting, {})
    .option('--email <address>', "also send the link to this address, one of the tenant's alert addresses: through the alerts topic (locally, the outbox), which reaches every alert address of the tenant")
    .addHelpText(
      'after',
      `
The link works once, until --valid ends; Sesame keeps only its hash. Set SESAME_PUBLIC_URL
to the address the client will open (default http://127.0.0.1:8787, \`sesame dev\`).
--email sends it only to an address among the tenant's alert addresses (\`sesame tenant set
<tenant> --alert-email <address>\`); the alerts topic filters on the tenant, so all of the
tenant's alert addresses (and the operator's unfiltered subscription) receive the message,
which names the address it is meant for. Locally, it lands in $SESAME_HOME/outbox/.

Examples:
  sesame connect cfa-paris opco-atlas
  sesame connect cfa-paris chorus-piste --fields account_login,account_password --valid 3d
  sesame connect cfa-bxl fla-employer --json
  sesame connect cfa-paris cegid-cfe --email compta@cfa-paris.example
  sesame connect cfa-paris opco-akto --set base_url=https://api.akto.example/convergence
  sesame connect cfa-bxl fla-employer --environment acceptance --set quality=employer`,
    )
    .action(async (tenant: string, credential: string, o: { fields?: string[]; valid: string; email?: string; environment?: string; set: Record<string, string> }, cmd: Command) => {
      const s = await system(cmd);
      if (!s.connect) {
        throw new SesameError('invalid_request', 'no state table: connect links are kept there; set SESAME_STATE_TABLE to the stack\'s StateTable output (or SESAME_STACK to the deployed stack\'s name)');
      }
      // With --email, the address is checked before the link is made.
      const link = await s.connect.create({
        tenant,
        credential,
        ...(o.fields ? { fields: o.fields } : {}),
        valid: o.valid,
        createdBy: 'cli',
        ...(o.email !== undefined ? { email: o.email } : {}),
        ...(o.environment !== undefined ? { environment: o.environment } : {}),
        ...(Object.keys(o.set).length > 0 ? { settings: o.set } : {}),
      });
      if (cmd.optsWithGlobals().json) {
        out(JSON.stringify({ url: link.url, expires_at: link.expires_at, ...(link.sent_to ? { sent_to: link.sent_to } : {}) }));
        return;
      }
      process.stderr.write(`Connect link for ${link.tenant}/${link.credential} (${link.kind}), asking ${link.fields.join(', ')}; valid until ${link.expires_at}. Shown only now:\n`);
      if (link.sent_to) process.stderr.write(`Sent for ${link.sent_to} through the alerts topic: every alert address of ${link.tenant} receives it.\n`);
      out(link.url);
    });
}
