/**
 * A run's compensation list, as in Temporal's saga sample: each step that changes something
 * registers its undo; when the run fails after it, the undos run in reverse, each a recorded step
 * on the card. An undo that fails (after its activity's retries) is reported as failed, with the
 * state Azure really holds, never as done.
 */
import type { AccountRef } from '../shared/accounts';
import type { EncryptionSettings, StepId } from '../shared/plan';
import type { Stage } from '../shared/approval';
import type { StepResult } from '../shared/runbooks';
import { describeEncryption } from '../shared/status';
import { PATCHES, inForce } from './patches';
import { azure, RUNBOOK_QUEUE, type AzureProxies } from './proxies';

/** One undo: the step it belongs to, what it puts back, and how it reads Azure when it fails. */
export interface Undo {
  step: StepId;
  title: string;
  /** What the undo puts back, as the card says it (e.g. the earlier encryption). */
  restores: string;
  /** Puts it back; an activity, so it retries per its retry policy before it counts as failed. */
  run: () => Promise<unknown>;
  /** Reads what Azure holds now, after the undo failed. */
  readActual: () => Promise<EncryptionSettings>;
}

/** What running the list did. */
export interface Compensated {
  /** True when every undo ran (also when there was nothing to undo). */
  complete: boolean;
  /** One sentence per undo that failed: what, why, and what Azure holds now. */
  failures: string[];
  /** The encryption Azure reported after a failed undo; absent when none failed or it could not be read. */
  actual?: EncryptionSettings;
}

/** The part of a run compensation writes to: its stage, its steps and what remains in Azure. */
export interface CompensatingRun {
  readonly account: AccountRef;
  readonly remaining: string[];
  setStage(stage: Stage): Promise<void>;
  recordStep(id: StepId, title: string, status: StepResult['status'], detail?: string): void;
}

/** The undo list of one run; {@link Run} owns one. */
export class Compensation {
  private readonly undos: Undo[] = [];

  constructor(private readonly run: CompensatingRun) {}

  /** Registers an undo for a change about to be made. */
  add(undo: Undo): void {
    this.undos.push(undo);
  }

  /** Runs the registered undos newest first, once each; a no-op when there are none. */
  async compensate(): Promise<Compensated> {
    const done: Compensated = { complete: true, failures: [] };
    if (this.undos.length === 0) return done;
    await this.run.setStage('compensating');
    for (let undo = this.undos.pop(); undo; undo = this.undos.pop()) {
      try {
        await undo.run();
        this.run.recordStep(undo.step, undo.title, 'compensated', undo.restores);
      } catch (error) {
        const why = messageOf(error);
        // Runs that failed an undo before the read existed replay without it.
        const state = inForce(PATCHES.undoReadsState) ? await readState(undo) : undefined;
        const now = state?.text ?? 'its state was not read';
        this.run.recordStep(undo.step, undo.title, 'failed', `${why}; ${now}`);
        this.run.remaining.push(
          `${undo.title} of ${this.run.account.name} to ${undo.restores} failed: ${why}; ${now}`,
        );
        done.complete = false;
        done.failures.push(`${undo.title} to ${undo.restores} failed (${why}); ${now}.`);
        if (state?.settings) done.actual = state.settings;
      }
    }
    return done;
  }
}

/** Azure's state after a failed undo, or what stopped the read (never a thrown error). */
async function readState(undo: Undo): Promise<{ settings?: EncryptionSettings; text: string }> {
  try {
    const settings = await undo.readActual();
    return { settings, text: `it now uses ${describeEncryption(settings)}` };
  } catch (error) {
    return { text: `its encryption could not be read either (${messageOf(error)})` };
  }
}

/**
 * The undo of an encryption change: put the account back to `before` (through `writes`, the
 * account's ARM write proxies), read it when that fails.
 */
export function encryptionUndo(
  account: AccountRef,
  step: { id: StepId; title: string; summary: string },
  before: EncryptionSettings,
  writes: Pick<AzureProxies, 'azurePropagation'> = RUNBOOK_QUEUE,
): Undo {
  return {
    step: step.id,
    title: step.title,
    restores: describeEncryption(before),
    run: () =>
      writes.azurePropagation.restoreEncryption.executeWithOptions({ summary: step.summary }, [
        { account, settings: before },
      ]),
    readActual: () =>
      azure.getEncryption.executeWithOptions({ summary: `Read the encryption of ${account.name}` }, [
        { account },
      ]),
  };
}

/** The message of an activity failure: its cause's (which says what to do), else its own. */
function messageOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (error as Error).message;
}
