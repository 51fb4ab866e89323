import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * A stateful stand-in for Secrets Manager behind aws-sdk-client-mock, so that the
 * AWS adapter can run the same contract suite as the local one. Test-only.
 */
export function fakeSecretsManager(everyClient = false) {
  const client = new SecretsManagerClient({ region: 'eu-west-3', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  // everyClient: also the clients that code under test creates for itself.
  const mock = everyClient ? mockClient(SecretsManagerClient) : mockClient(client);
  const secrets = new Map<string, { versions: { id: string; value: string; created: Date }[]; tags: Map<string, string> }>();
  let seq = 0;
  const notFound = () => new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });

  mock.on(GetSecretValueCommand).callsFake((input) => {
    const s = secrets.get(input.SecretId);
    const v = s?.versions[input.VersionStage === 'AWSPREVIOUS' ? 1 : 0];
    if (!v) throw notFound();
    return { Name: input.SecretId, SecretString: v.value, VersionId: v.id, CreatedDate: v.created };
  });
  mock.on(PutSecretValueCommand).callsFake((input) => {
    const s = secrets.get(input.SecretId);
    if (!s) throw notFound();
    const id = input.ClientRequestToken ?? `v${++seq}`;
    s.versions.unshift({ id, value: input.SecretString, created: new Date() });
    return { Name: input.SecretId, VersionId: id };
  });
  mock.on(CreateSecretCommand).callsFake((input) => {
    if (secrets.has(input.Name)) throw new ResourceExistsException({ message: 'exists', $metadata: {} });
    const id = input.ClientRequestToken ?? `v${++seq}`;
    secrets.set(input.Name, { versions: [{ id, value: input.SecretString, created: new Date() }], tags: new Map((input.Tags ?? []).map((t: { Key: string; Value: string }) => [t.Key, t.Value])) });
    return { Name: input.Name, VersionId: id };
  });
  mock.on(TagResourceCommand).callsFake((input) => {
    const s = secrets.get(input.SecretId);
    if (!s) throw notFound();
    for (const t of input.Tags) s.tags.set(t.Key, t.Value);
    return {};
  });
  mock.on(ListSecretsCommand).callsFake((input) => {
    const prefix: string = input.Filters?.[0]?.Values?.[0] ?? '';
    const names = [...secrets.keys()].filter((n) => n.toLowerCase().startsWith(prefix.toLowerCase())).sort();
    const start = input.NextToken ? Number(input.NextToken) : 0;
    const max = input.MaxResults ?? 100;
    const page = names.slice(start, start + max);
    return {
      SecretList: page.map((Name) => ({ Name, Tags: [...(secrets.get(Name)?.tags ?? [])].map(([Key, Value]) => ({ Key, Value })) })),
      NextToken: start + max < names.length ? String(start + max) : undefined,
    };
  });
  return { client, mock, secrets };
}
