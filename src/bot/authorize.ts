/**
 * Who may use the bot: every command and click comes from a person Teams named by Entra object
 * id, in the configured tenant; a command that starts or schedules something comes from someone
 * the policy lets ask for it. Refusals are cards that say why; nothing is started or changed.
 */
import {
  mayRequest,
  sameTenant,
  REQUEST_ENV_SUFFIX,
  type ApprovalPolicy,
  type RequestOperation,
} from '../shared/approval';
import { IdentityMissing, NotInTenant, RequesterNotAllowed, type Refusal } from '../shared/refusals';
import { OPERATION_TITLES } from '../shared/runbooks';
import { renderErrorCard, type AdaptiveCardJson } from './cards/render';
import type { Command } from './commands';
import { RUN_OPERATIONS } from './run-inputs';

/** A person as the Teams activity names them; nothing here comes from card data or message text. */
export interface Requester {
  aadObjectId?: string;
  name?: string;
  /** `channelData.tenant.id` (or `conversation.tenantId`) of the activity. */
  tenantId?: string;
}

/** A person the bot knows: Entra object id (lowercase), name and tenant, all present. */
export interface Member {
  aadObjectId: string;
  name: string;
  tenantId: string;
}

/**
 * What each command asks for; read-only commands (help, runs, status, pending) need only
 * membership, and `plan` needs what its operation needs (a preview shows what one may ask for).
 * A run command asks for the operation it starts.
 */
const REQUESTS: Partial<Record<Command['kind'], RequestOperation>> = {
  ...RUN_OPERATIONS,
  setRotationPolicy: 'setRotationPolicy',
  rotateFleet: 'fleetRotate',
  scheduleRotation: 'scheduleRotation',
  unscheduleRotation: 'unscheduleRotation',
};

/** The operation a command asks for, if any. */
function requestOf(command: Command): RequestOperation | undefined {
  return REQUESTS[command.kind === 'plan' ? command.command.kind : command.kind];
}

const REQUEST_TITLES: Record<RequestOperation, string> = {
  ...OPERATION_TITLES,
  scheduleRotation: 'Schedule rotation',
  unscheduleRotation: 'Stop scheduled rotation',
};

/** The person behind an activity, or a refusal: no Entra object id, or another tenant. */
export function memberOf(policy: ApprovalPolicy, person: Requester): Member {
  if (!person.aadObjectId) {
    throw new IdentityMissing(
      'Teams did not say who you are (the message carries no Entra object id), so I cannot act on it. Use me from Teams, signed in with your work account.',
    );
  }
  if (!sameTenant(person.tenantId, policy.tenantId)) {
    throw new NotInTenant(
      'You are signed in to another organisation than the one I serve; I take commands and decisions only from my own tenant.',
    );
  }
  return {
    aadObjectId: person.aadObjectId.toLowerCase(),
    name: person.name ?? '',
    tenantId: person.tenantId!.toLowerCase(),
  };
}

/** Checks that the person may send this command (undefined: a command that did not parse). */
export function authorizeCommand(policy: ApprovalPolicy, person: Requester, command?: Command): Member {
  const member = memberOf(policy, person);
  const operation = command ? requestOf(command) : undefined;
  if (operation && !mayRequest(policy, operation, member.aadObjectId)) {
    const key = `CMK_REQUESTERS_${REQUEST_ENV_SUFFIX[operation]}`;
    throw new RequesterNotAllowed(
      `You may not ask for ${REQUEST_TITLES[operation]}. An administrator can add your Entra object id (${member.aadObjectId}) to ${key} or CMK_REQUESTERS.`,
    );
  }
  return member;
}

const TITLES: Partial<Record<Refusal['name'], string>> = {
  IdentityMissing: 'Who are you?',
  NotInTenant: 'Not from this organisation',
  RequesterNotAllowed: 'Not allowed',
  CancelNotAllowed: 'Not yours to cancel',
  RunNotCancellable: 'Too late to cancel',
  NothingToCancel: 'Nothing to cancel',
  ScheduleExists: 'Already scheduled',
};

/** The card a refusal is shown as. */
export function refusalCard(refusal: Refusal): AdaptiveCardJson {
  return renderErrorCard({ title: TITLES[refusal.name] ?? 'Refused', problem: refusal.message });
}
