import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AwsSecretStore } from '../../functions/adapters/aws-secret-store.ts';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { fakeSecretsManager } from '../helpers/fake-secrets-manager.ts';
import { secretStoreContract } from './secret-store.contract.ts';

secretStoreContract('LocalSecretStore', async () => new LocalSecretStore(await mkdtemp(join(tmpdir(), 'sesame-store-')), randomBytes(32)));
secretStoreContract('AwsSecretStore', async () => new AwsSecretStore(fakeSecretsManager().client));
