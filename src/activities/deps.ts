/**
 * What the activities are built from: the Azure clients, the chat port, the tenant, the
 * runbook's own principal and the timing of waits.
 */
import type { ChatPort } from '../shared/chat';
import type { AzureClients } from './azure-clients';
import type { ActivityTiming } from './runtime';

/** Resolved dependencies every activity module receives. */
export interface ActivityDeps {
  azure: AzureClients;
  chat: ChatPort;
  /** Tenant of new vaults and access-policy entries. */
  tenantId: string;
  /** Object id of the runbook's own principal (memoised; read from the ARM token when not configured). */
  runbookPrincipalId: () => Promise<string>;
  timing: ActivityTiming;
}

/** Built-in role: what the storage account's identity needs on the key (RBAC vaults). */
export const CRYPTO_SERVICE_ENCRYPTION_USER = 'e147488a-f6f5-4113-8e2d-b22465e65bf6';
/** Built-in role: what the runbook needs on a vault it creates in RBAC mode. */
export const CRYPTO_OFFICER = '14b46e9e-c2b7-41b4-b07b-48a6ebf60603';

/** Key permissions Azure Storage needs (access-policy vaults). */
export const STORAGE_KEY_PERMISSIONS = ['get', 'wrapKey', 'unwrapKey'] as const;
/** Key permissions the runbook gives itself on an access-policy vault it creates. */
export const RUNBOOK_KEY_PERMISSIONS = [
  'get',
  'list',
  'create',
  'update',
  'rotate',
  'getrotationpolicy',
  'setrotationpolicy',
] as const;

/** Tag naming the workflow that created a key version, so a retry finds it instead of making another. */
export const RUN_TAG = 'cmk-runbook-run';
