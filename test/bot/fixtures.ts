/**
 * Run statuses as the `status` query returns them at the moments a card is drawn: waiting
 * for approval with a destructive plan, blocked, and finished.
 */
import type { RunStatus } from '../../src/shared/approval';
import type { Plan } from '../../src/shared/plan';

export const TENANT = '7c0a5e1d-0b5e-4c1a-9e2f-00000000c0de';
export const SUBSCRIPTION = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';
export const REQUESTER = { aadObjectId: '00000000-0000-0000-0000-0000000000a1', name: 'Adele Vance' };
export const APPROVER = { aadObjectId: '00000000-0000-0000-0000-0000000000a2', name: 'Megan Bowen' };
export const APPROVER_2 = { aadObjectId: '00000000-0000-0000-0000-0000000000a3', name: 'Lee Gu' };

const account = { subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-storage', name: 'stcontoso' };

export const PLAN: Plan = {
  operation: 'configure',
  account,
  location: 'eastus',
  vault: { name: 'kv-stcontoso', resourceGroup: 'rg-storage', subscriptionId: SUBSCRIPTION, exists: false },
  key: { vaultName: 'kv-stcontoso', name: 'cmk-key', exists: false },
  steps: [
    {
      id: 'vault',
      title: 'Create vault kv-stcontoso with purge protection',
      destructive: false,
      irreversible: true,
    },
    {
      id: 'identity',
      title: 'Give stcontoso a system-assigned identity',
      destructive: false,
      irreversible: false,
    },
    {
      id: 'grant',
      title: 'Grant the identity get/wrap/unwrap on cmk-key',
      destructive: false,
      irreversible: false,
    },
    { id: 'key', title: 'Create RSA 2048 key cmk-key', destructive: false, irreversible: false },
    {
      id: 'enable',
      title: 'Encrypt stcontoso with kv-stcontoso/cmk-key',
      destructive: true,
      irreversible: false,
    },
  ],
  blockers: [],
  warnings: ['Infrastructure encryption can only be chosen when an account is created.'],
  before: { keySource: 'Microsoft.Storage' },
  after: {
    keySource: 'Microsoft.Keyvault',
    vaultUri: 'https://kv-stcontoso.vault.azure.net/',
    keyName: 'cmk-key',
    keyVersion: '',
    identity: 'SystemAssigned',
  },
  destructive: true,
  irreversible: ['Create vault kv-stcontoso with purge protection'],
  fingerprint: 'f1e2d3c4b5a6',
};

/** Waiting for two approvals, one given. */
export function pendingStatus(): RunStatus {
  return {
    workflowId: `cmk/${SUBSCRIPTION}/rg-storage/stcontoso`,
    runId: '0193a0b6-1111-7000-8000-000000000001',
    operation: 'configure',
    account,
    requester: REQUESTER,
    stage: 'awaiting-approval',
    summary: 'Configure CMK · stcontoso · kv-stcontoso/cmk-key (versionless)',
    plan: PLAN,
    approval: {
      state: 'pending',
      quorum: 2,
      approvers: [APPROVER.aadObjectId, APPROVER_2.aadObjectId],
      decisions: [
        {
          approverAadId: APPROVER_2.aadObjectId,
          approverName: APPROVER_2.name,
          verdict: 'approve',
          at: '2026-11-29T01:00:00.000Z',
          fingerprint: PLAN.fingerprint,
        },
      ],
      deadline: '2026-11-30T01:00:00.000Z',
    },
    steps: [{ id: 'preflight', title: 'Preflight', status: 'done', at: '2026-11-29T00:59:00.000Z' }],
    uiUrl: 'http://localhost:8233/namespaces/default/workflows/cmk%2F3f1c/run-1/history',
  };
}

/** Stopped before any change, with the fix. */
export function blockedStatus(): RunStatus {
  const status = pendingStatus();
  const plan: Plan = {
    ...PLAN,
    blockers: [
      {
        code: 'PurgeProtectionMissing',
        message: 'Vault kv-legacy has no purge protection.',
        fix: 'Turn on purge protection: az keyvault update -n kv-legacy --enable-purge-protection true',
      },
    ],
  };
  return {
    ...status,
    stage: 'done',
    plan,
    approval: { state: 'not-required', quorum: 1, approvers: [], decisions: [] },
    result: {
      outcome: 'blocked',
      message: 'Nothing was changed: vault kv-legacy has no purge protection.',
      plan,
      steps: [],
      remaining: [],
      errorType: 'PurgeProtectionMissing',
    },
  };
}

/** Finished: encrypted with the new key. */
export function succeededStatus(): RunStatus {
  const status = pendingStatus();
  return {
    ...status,
    stage: 'done',
    approval: {
      ...status.approval,
      state: 'approved',
      decisions: [
        ...status.approval.decisions,
        {
          approverAadId: APPROVER.aadObjectId,
          approverName: APPROVER.name,
          verdict: 'approve',
          at: '2026-11-29T01:01:00.000Z',
          fingerprint: PLAN.fingerprint,
        },
      ],
    },
    steps: PLAN.steps.map((s) => ({
      id: s.id,
      title: s.title,
      status: 'done' as const,
      at: '2026-11-29T01:02:00.000Z',
    })),
    result: {
      outcome: 'succeeded',
      message: 'stcontoso is encrypted with kv-stcontoso/cmk-key (versionless).',
      plan: PLAN,
      steps: [],
      encryption: PLAN.after,
      remaining: [],
    },
  };
}
