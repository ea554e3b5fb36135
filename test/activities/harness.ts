/**
 * The activities against the local Azure with the real SDK clients: one emulator per test
 * file, clients from the production factory (credential and agent are the only seams), and
 * activities run inside a real Temporal activity context.
 */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActivityTiming, AzureClients } from '../../src/activities';
import type { LocalAzure, LocalAzureOptions } from '../../src/local-azure';
import type { AzureRequestMetrics } from '../../src/telemetry/azure-metrics';
import type { AccountRef } from '../../src/shared/accounts';
import type { CmkActivities, KeyState, RevokeResult, VaultState } from '../../src/shared/activities';
import type { Plan } from '../../src/shared/plan';
import type { KeyChoice, VaultChoice } from '../../src/shared/runbooks';
import { ChatRecorder, FAST_TIMING as KIT_TIMING, localAzure, QUICK_RETRY, SEEDED } from '../kit';
import { uniqueId } from '../helpers/temporal';

/** The seeded demo subscription and resource groups. */
export const SUB = SEEDED.subscriptionId;
export const RG_KEYS = SEEDED.keysGroup;
export const RG_STORAGE = SEEDED.storageGroup;
/** The seeded runbook principal. */
export const RUNBOOK_OID = SEEDED.runbookObjectId;

/** Short waits so tests stay fast; the code paths are the production ones. */
export const FAST_TIMING: ActivityTiming = { ...KIT_TIMING, grantTimeoutMs: 5_000 };

/**
 * The plan `inspect` makes for a configure of `account` onto `key` in `vault` (system-assigned
 * identity, versionless unless `pinVersion`), as the configure runbook asks for it.
 */
export function planConfigure(
  h: Pick<Harness, 'run'>,
  account: AccountRef,
  { vault, key, pinVersion = false }: { vault: VaultChoice; key: KeyChoice; pinVersion?: boolean },
): Promise<Plan> {
  return h.run((a) =>
    a.inspect({
      account,
      request: { operation: 'configure', vault, key, identity: { type: 'SystemAssigned' }, pinVersion },
    }),
  );
}

/** A running harness. */
export interface Harness {
  local: LocalAzure;
  activities: CmkActivities;
  chat: ChatRecorder;
  /** The same production clients the activities use, for arranging Azure state through its API. */
  azure: AzureClients;
  /** Plans a revocation and runs it with the plan's list of grants, as the revoke runbook does once approved. */
  revoke(account: AccountRef, disableKey: boolean): Promise<RevokeResult>;
  /**
   * Runs an activity call inside a fresh activity context of a workflow run; `info` stands for
   * a later attempt (e.g. the heartbeat details a lost attempt left).
   */
  run<T>(fn: (a: CmkActivities) => Promise<T>, runId?: string, info?: Partial<Info>): Promise<T>;
  /** A new storage account in the demo subscription, Microsoft-managed keys, no identity. */
  newAccount(prefix?: string): AccountRef;
  /** A unique vault name. */
  vaultName(prefix?: string): string;
  /**
   * A new account on a customer-managed key through the activities: system identity, its grant,
   * the key (RSA 2048) and CMK on, pinned or versionless. In a new access-policy vault unless given.
   */
  /** The same activities over new clients, as a worker that just started has them (no client has called Azure yet). */
  freshActivities(): CmkActivities;
  cmkAccount(options: { keyName: string; pinVersion: boolean; vault?: VaultState }): Promise<{
    account: AccountRef;
    vault: VaultState;
    key: KeyState;
  }>;
  close(): Promise<void>;
}

/** Starts the local Azure and builds the activities over it. */
export async function startHarness(
  options: LocalAzureOptions & {
    timing?: Partial<ActivityTiming>;
    /** Counts the clients' answers, as the worker's `/metrics` does. */
    metrics?: AzureRequestMetrics;
  } = {},
): Promise<Harness> {
  const { timing, metrics, ...azureOptions } = options;
  const kit = await localAzure({
    roleAssignmentPropagationMs: 150,
    revocationPropagationMs: 100,
    ...azureOptions,
  });
  const { local, newAccount, vaultName } = kit;
  const azure = kit.clients({ retry: QUICK_RETRY, ...(metrics ? { metrics } : {}) });
  const chat = new ChatRecorder();
  const activities = kit.activities({ azure, chat, timing: { ...FAST_TIMING, ...timing } });
  const run: Harness['run'] = (fn, runId = uniqueId('run'), info = {}) =>
    new MockActivityEnvironment({
      workflowExecution: { workflowId: uniqueId('cmk'), runId },
      heartbeatTimeoutMs: 60_000,
      ...info,
    }).run(() => fn(activities));
  const revoke: Harness['revoke'] = async (account, disableKey) => {
    const plan = await run((a) => a.inspect({ account, request: { operation: 'revoke', disableKey } }));
    return run((a) => a.revokeAccess({ account, disableKey, approved: plan.revocation }));
  };
  return {
    local,
    activities,
    chat,
    azure,
    revoke,
    run,
    newAccount,
    vaultName,
    freshActivities: () =>
      kit.activities({
        azure: kit.clients({ retry: QUICK_RETRY }),
        chat,
        timing: { ...FAST_TIMING, ...timing },
      }),
    async cmkAccount({ keyName, pinVersion, vault }) {
      const account = newAccount();
      const inVault =
        vault ??
        (await run((a) =>
          a.ensureVault({ account, vault: { name: vaultName(), rbac: false }, location: 'eastus' }),
        ));
      const identity = await run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
      await run((a) => a.grantKeyAccess({ vault: inVault, principalId: identity.principalId, keyName }));
      const key = await run((a) =>
        a.ensureKey({ vault: inVault, key: { name: keyName, type: 'RSA', size: 2048 }, runId: 'r' }),
      );
      await run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion }));
      return { account, vault: inVault, key };
    },
    close: () => local.close(),
  };
}
