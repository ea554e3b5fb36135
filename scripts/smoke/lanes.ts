/**
 * The lanes of a smoke run: the commands each step sends, what the smoke then expects to read in
 * Azure, and which of the run's steps bound the propagation it measures.
 */
import type { AzureClients } from '../../src/activities';
import { accountId, type AccountRef } from '../../src/shared/accounts';
import type { StepId } from '../../src/shared/plan';
import { listKeyVersions, readCanary, readEncryption } from './checks';
import type { SmokeNames } from './resources';

/** One lifecycle step of a lane. */
export interface LaneStep {
  step: string;
  command: string;
  /** The smoke's own reading of Azure after the run: undefined when it is as expected. */
  check: () => Promise<string | undefined>;
  /** From which step's end to which step's end access changed and Azure honoured it. */
  propagation?: { from: StepId[]; to: StepId; what: string };
}

/** A lane: one account and its steps, run in order. */
export interface Lane {
  lane: string;
  account: AccountRef;
  steps: LaneStep[];
}

/** Expectation helper: the differences, or undefined when there are none. */
function differences(pairs: [string, unknown, unknown][]): string | undefined {
  const wrong = pairs
    .filter(([, got, want]) => got !== want)
    .map(([what, got, want]) => `${what} ${String(got)} (want ${String(want)})`);
  return wrong.length ? wrong.join('; ') : undefined;
}

/** A: system-assigned identity, RBAC grant on the vault the runbook creates, pinned. */
export function laneA(
  azure: AzureClients,
  names: SmokeNames,
  account: AccountRef,
  confirmWithin: string,
): Lane {
  const vault = names.rbacVault;
  let versionsBefore: string[] = [];
  const encryption = () => readEncryption(azure, account);
  const steps: LaneStep[] = [
    {
      step: 'configure (system-assigned, RBAC, pinned)',
      command: `configure ${accountId(account)} --vault ${vault} --key cmk-smoke-a --pin-version`,
      propagation: { from: ['grant'], to: 'enable', what: 'grant → Storage wraps with the key' },
      check: async () => {
        const e = await encryption();
        versionsBefore = await listKeyVersions(azure, vault, 'cmk-smoke-a');
        return differences([
          ['key source', e.keySource, 'Microsoft.Keyvault'],
          ['key', e.keyName, 'cmk-smoke-a'],
          ['version', e.keyVersion, versionsBefore.at(-1)],
          ['user identity', e.userAssignedIdentity, undefined],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]);
      },
    },
    {
      step: 'rotate',
      command: `rotate ${accountId(account)}`,
      check: async () => {
        const versions = await listKeyVersions(azure, vault, 'cmk-smoke-a');
        return differences([
          ['versions', versions.length, versionsBefore.length + 1],
          ['version in use', (await encryption()).keyVersion, versions.at(-1)],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]);
      },
    },
    {
      step: 'change key',
      command: `change-key ${accountId(account)} --key cmk-smoke-b`,
      propagation: { from: ['grant'], to: 'switch', what: 'grant → Storage wraps with the new key' },
      check: async () =>
        differences([
          ['key', (await encryption()).keyName, 'cmk-smoke-b'],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]),
    },
    ...accessSteps(azure, account, confirmWithin, 'cmk-smoke-b'),
  ];
  return { lane: 'A', account, steps };
}

/** B: user-assigned identity, access-policy grant on the vault the smoke creates, versionless. */
export function laneB(
  azure: AzureClients,
  names: SmokeNames,
  account: AccountRef,
  identityId: string,
  confirmWithin: string,
): Lane {
  const steps: LaneStep[] = [
    {
      step: 'configure (user-assigned, access policy, versionless)',
      command: `configure ${accountId(account)} --vault ${names.accessPolicyVault} --key cmk-smoke-c --user-identity ${identityId}`,
      propagation: { from: ['grant'], to: 'enable', what: 'grant → Storage wraps with the key' },
      check: async () => {
        const e = await readEncryption(azure, account);
        return differences([
          ['key source', e.keySource, 'Microsoft.Keyvault'],
          ['key', e.keyName, 'cmk-smoke-c'],
          ['version', e.keyVersion || '(versionless)', '(versionless)'],
          ['user identity', e.userAssignedIdentity?.toLowerCase(), identityId.toLowerCase()],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]);
      },
    },
    ...accessSteps(azure, account, confirmWithin, 'cmk-smoke-c'),
  ];
  return { lane: 'B', account, steps };
}

/** Revoke, restore and disable, the same on both lanes. */
function accessSteps(
  azure: AzureClients,
  account: AccountRef,
  confirmWithin: string,
  key: string,
): LaneStep[] {
  return [
    {
      step: 'revoke',
      command: `revoke ${accountId(account)} --confirm-within ${confirmWithin}`,
      propagation: { from: ['revoke', 'disableKey'], to: 'probe', what: 'revoke → first denied canary read' },
      check: async () => differences([['canary', await readCanary(azure, account), 'denied']]),
    },
    {
      step: 'restore access',
      command: `restore-access ${accountId(account)}`,
      propagation: { from: ['grant', 'enableKey'], to: 'probe', what: 'restore → canary readable again' },
      check: async () =>
        differences([
          ['key', (await readEncryption(azure, account)).keyName, key],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]),
    },
    {
      step: 'disable',
      command: `disable ${accountId(account)}`,
      check: async () =>
        differences([
          ['key source', (await readEncryption(azure, account)).keySource, 'Microsoft.Storage'],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]),
    },
  ];
}
