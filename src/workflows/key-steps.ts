/**
 * The key and its grant, as configure and change-key make them: the key (created or checked),
 * then the account identity's access to it. A role assignment scoped to a key needs the key, so
 * runs started with `keyBeforeGrant` make the key first; earlier runs keep their order.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { GrantState, KeyState, VaultState } from '../shared/activities';
import type { KeyChoice } from '../shared/runbooks';
import { PATCHES, inForce } from './patches';
import { azure } from './proxies';
import { armWritesIn } from './arm-writes';
import type { Run } from './run';
import type { StepGuard } from './step-guard';
import { grantDone, keyDone } from './step-texts';

/** What the two steps need, and what the runbook notes once each is done. */
export interface KeyAndGrantInput {
  vault: VaultState;
  key: KeyChoice;
  principalId: string;
  /** Called once the key step is done (e.g. to list a created key as remaining). */
  onKey?: (key: KeyState) => void;
  /** Called once the grant step is done. */
  onGrant?: (grant: GrantState) => void;
}

/** Runs the key and grant steps in the order the run was started with. */
export async function ensureKeyAndGrant(
  run: Run,
  guard: StepGuard,
  input: KeyAndGrantInput,
): Promise<{ key: KeyState; grant: GrantState }> {
  const { vault } = input;
  const keyStep = async (): Promise<KeyState> => {
    const made = await run.step(
      'key',
      'Key',
      () =>
        azure.ensureKey.executeWithOptions({ summary: `Ensure key ${input.key.name}` }, [
          { vault, key: input.key, runId: workflowInfo().runId },
        ]),
      keyDone,
    );
    guard.ran('key', made.created);
    input.onKey?.(made);
    return made;
  };
  const keyFirst = inForce(PATCHES.keyBeforeGrant);
  let key = keyFirst ? await keyStep() : undefined;
  // A role assignment or access policy lives with the vault: its subscription's budget.
  const vaultWrites = armWritesIn(run, vault.subscriptionId);
  const grant = await run.step(
    'grant',
    'Key access',
    () =>
      vaultWrites.azureLong.grantKeyAccess.executeWithOptions(
        { summary: `Grant key access on ${vault.name}` },
        [{ vault, principalId: input.principalId, keyName: input.key.name }],
      ),
    grantDone,
  );
  guard.ran('grant', grant.changed);
  input.onGrant?.(grant);
  key ??= await keyStep();
  return { key, grant };
}
