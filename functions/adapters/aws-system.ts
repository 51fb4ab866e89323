import type { Config } from '../core/config.ts';
import type { Log } from '../core/ports.ts';
import { awsDeps, type AwsSystemOptions } from './aws-deps.ts';
import { kmsSharedTokens } from './kms-sealer.ts';
import { intakeAdapters } from './aws-intake-adapters.ts';
import { buildSystem, type System } from './system.ts';

export type { AwsSystemOptions } from './aws-deps.ts';

/**
 * Everything, over AWS: what the CLI's --aws mode and the tests use. Each function
 * builds only its part (functions/<name>/wiring.ts or handler.ts), with the clients it calls.
 */
export function awsSystem(config: Config, log: Log, options: AwsSystemOptions = {}): System {
  const deps = awsDeps(config, log, options);
  // The token function's second-level cache: only where the stack gives it the sealing key (SESAME_TOKEN_CACHE_KEY).
  const sharedTokens = deps.state ? kmsSharedTokens(config, deps.state, log, deps.clock) : undefined;
  const system = buildSystem({
    ...deps,
    ...intakeAdapters(config),
    ...(sharedTokens ? { sharedTokens } : {}),
  });
  return config.bucket ? { ...system, bucket: config.bucket } : system;
}
