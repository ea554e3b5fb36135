/**
 * Every runbook workflow the worker registers, under the names `WORKFLOW_TYPES` lists. Pure:
 * workflow code imports only `@temporalio/workflow`, `@temporalio/common` and `src/shared`.
 */
export { configureCmk } from './configure-cmk';
export { rotateKey } from './rotate-key';
export { changeKey } from './change-key';
export { revokeAccess } from './revoke-access';
export { disableCmk } from './disable-cmk';
export { setRotationPolicy } from './set-rotation-policy';
export { keyRotationTurn, scheduledRotation } from './scheduled-rotation';
export { fleetRotate } from './fleet-rotate';
export { updateKeyVersion } from './update-version';
export { restoreAccess } from './restore-access';
export { planOperation } from './plan-operation';
export { versionlessPickup } from './versionless-pickup';
