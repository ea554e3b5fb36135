/**
 * The in-memory Azure's answers for the activities added with fleets plans and key-level
 * operations: a fleet's plan from the accounts it holds; the version and key-policy activities
 * are modelled by the local Azure only, so tests of those runbooks use `startLocalStack`.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { CmkActivities, FleetPlan } from '../../src/shared/activities';
import { ungroupAccounts } from '../../src/shared/fleet-tally';
import type { AzureDouble } from './azure-double';

type Extras = Pick<
  CmkActivities,
  'inspectFleet' | 'inspectKeyPolicy' | 'setKeyRotationPolicy' | 'setKeyVersion' | 'enableKeyVersion'
>;

const notModelled = (name: string) => (): Promise<never> =>
  Promise.reject(
    ApplicationFailure.nonRetryable(
      `${name} is not modelled by the in-memory Azure; test it against the local Azure (startLocalStack).`,
      'NotModelled',
    ),
  );

/** The extra activities over `double`. */
export function extraActivities(double: AzureDouble): Extras {
  return {
    inspectFleet: async ({ accounts: listed, groups, selection, keysInUse }): Promise<FleetPlan> => {
      const accounts = [...listed, ...ungroupAccounts(groups)];
      const skip: FleetPlan['skip'] = [];
      const rows: { name: string; detail: string; skip: boolean }[] = [];
      for (const ref of accounts) {
        const model = double.accounts.get(ref.name);
        const why = !model
          ? 'does not exist'
          : model.encryption.keySource !== 'Microsoft.Keyvault'
            ? 'uses Microsoft-managed keys; nothing to rotate'
            : undefined;
        if (why) skip.push({ account: ref, why: `${ref.name} ${why}; skipped.` });
        rows.push({ name: ref.name, detail: why ? `skipped: ${why}` : 'rotate', skip: !!why });
      }
      const rotate = accounts.length - skip.length;
      const state = JSON.stringify(
        accounts.map((a) => [a.name, double.accounts.get(a.name)?.encryption.keySource]),
      );
      return {
        skip,
        ...(keysInUse ? { keysInUse: double.keysInUse(accounts) } : {}),
        plan: {
          operation: 'fleetRotate',
          account: accounts[0]!,
          steps: [
            { id: 'preflight', title: 'Check Azure state', destructive: false, irreversible: false },
            {
              id: 'rotate',
              title: `Rotate ${rotate} account(s) ${selection ?? ''}`,
              destructive: false,
              irreversible: false,
              ...(rotate ? {} : { skip: true }),
            },
          ],
          blockers: rotate
            ? []
            : [{ code: 'NothingToRotate', message: 'Nothing to rotate.', fix: 'Select CMK accounts.' }],
          warnings: [],
          before: { keySource: 'Microsoft.Keyvault' },
          after: { keySource: 'Microsoft.Keyvault' },
          destructive: false,
          irreversible: [],
          fingerprint: createHash('sha256').update(state).digest('hex'),
          fleet: { total: accounts.length, rotate, skip: skip.length, rows },
        },
      };
    },
    inspectKeyPolicy: notModelled('inspectKeyPolicy'),
    setKeyRotationPolicy: notModelled('setKeyRotationPolicy'),
    setKeyVersion: notModelled('setKeyVersion'),
    enableKeyVersion: notModelled('enableKeyVersion'),
  };
}
