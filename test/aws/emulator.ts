import { inject, beforeEach } from 'vitest';

export const REGION = 'eu-west-3';
/** moto's default account. */
export const ACCOUNT = '123456789012';

/**
 * Points every AWS SDK client of this test file (and of the processes it starts) at
 * this worker's moto server, with dummy credentials, and wipes the emulator before
 * each test. Call it at the top of the file, before importing code that creates clients.
 */
export function useEmulator(): { endpoint: string; env: Record<string, string> } {
  const endpoints = inject('motoEndpoints');
  const id = Number(process.env.VITEST_POOL_ID ?? '1');
  const endpoint = endpoints[(id - 1) % endpoints.length] as string;
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'sesame-test',
    AWS_SECRET_ACCESS_KEY: 'sesame-test',
    // Never a profile, a config file or instance metadata from the machine running the tests.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  Object.assign(process.env, env);
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  beforeEach(async () => {
    const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
  });
  return { endpoint, env };
}
