/**
 * The admin API's shapes, as the console reads them: the types openapi-typescript
 * generates from the OpenAPI document (`npm run openapi:types` writes generated/api.ts),
 * so that the console cannot drift from the API it calls.
 */
import type { components, paths } from './generated/api.ts';

type S = components['schemas'];

export type Status = S['Status'];
export const STATUSES: readonly Status[] = ['ok', 'expiring', 'expired', 'incomplete', 'refused'];
export type Platform = S['PlatformFamily'];
export const PLATFORMS: readonly Platform[] = ['fla', 'chorus-piste', 'chorus-edi', 'opco', 'cegid-cfe'];

export type Text = S['Text'];
export type Operator = S['Operator'];
export type CredentialStatus = S['CredentialStatus'];
export type Counts = S['StatusCounts'];
export type CredentialPage = S['CredentialPage'];
export type Timeline = S['Timeline'];
export type TenantView = S['Tenant'];
export type TenantInput = S['TenantInput'];
export type TenantChanges = S['TenantChanges'];
export type CertificateReport = S['CertificateReport'];
export type Finding = CertificateReport['errors'][number];
export type CertificateReportView = S['CertificateReportView'];
export type UploadVerdict = S['UploadVerdict'];
export type CredentialDetail = S['CredentialDetail'];
export type AppView = S['App'];
export type NewAppKey = S['AppCreated'];
export type RotatedKey = S['AppRotated'];
/** What an error answer may hold: the document's Problem, every part optional (a proxy's error page has none). */
export type Problem = Partial<S['Problem']>;

type Method = 'get' | 'post' | 'patch';
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : never;
/** The JSON of a route's success answer, straight from the document: a route it lacks does not compile. */
export type Ok<P extends keyof paths, M extends Method> = paths[P][M] extends { responses: infer R }
  ? R extends { 200: infer A } ? JsonOf<A> : R extends { 201: infer A } ? JsonOf<A> : never
  : never;
/** The JSON body a route takes. */
export type Body<P extends keyof paths, M extends Method> = paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
