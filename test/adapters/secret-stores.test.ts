import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { secretStoreContract } from './secret-store.contract.ts';

secretStoreContract('LocalSecretStore', async () => new LocalSecretStore(await mkdtemp(join(tmpdir(), 'sesame-store-')), randomBytes(32)));
// AwsSecretStore runs the same contract against the AWS emulator: test/aws/secret-store.test.ts.
