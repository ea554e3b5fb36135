/** Inputs for adding resources (the seed file uses the same shapes) and stable generated ids. */
import { createHash } from 'node:crypto';
import type { AccessPolicy } from './model';

/** A GUID derived from a name, so seeded identities keep their ids across restarts. */
export function stableGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Timing options that shape the emulated services. */
export interface StateTiming {
  roleAssignmentPropagationMs: number;
  revocationPropagationMs: number;
}

/** Input for adding a storage account (seed entries use the same shape). */
export interface StorageAccountInput {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  sku?: string;
  kind?: string;
  tags?: Record<string, string>;
  requireInfrastructureEncryption?: boolean;
  queueKeyType?: 'Account' | 'Service';
  tableKeyType?: 'Account' | 'Service';
}

/** Input for adding a vault (seed entries use the same shape). */
export interface VaultInput {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  sku?: 'standard' | 'premium';
  enableSoftDelete?: boolean;
  softDeleteRetentionInDays?: number;
  enablePurgeProtection?: boolean;
  enableRbacAuthorization?: boolean;
  accessPolicies?: Array<Omit<AccessPolicy, 'tenantId'> & { tenantId?: string }>;
  tags?: Record<string, string>;
}

/** Input for adding a role assignment; `roleDefinitionId` may be a bare guid or a full id. */
export interface RoleAssignmentInput {
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType?: string;
  name?: string;
  /** Seeded grants are effective at once; new ones wait for the propagation delay. */
  effectiveImmediately?: boolean;
  createdBy?: string;
}
