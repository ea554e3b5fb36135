/**
 * Microsoft.Authorization role assignments at any scope (PUT/GET/DELETE, list with a principal
 * filter). New assignments take effect on the data plane only after the propagation delay.
 */
import { armError, jsonBody, send, type Ctx, type Env } from '../http';
import { KEY_VAULT_ROLES, roleGuid } from '../model';
import { roleAssignmentView } from '../views';
import { asRecord } from './arm';

const ONE = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleAssignments\/(?<name>[^/]+)$/i;
const LIST = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleAssignments$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Answers role-assignment requests. */
export function handleAuthorization(ctx: Ctx, env: Env): void {
  const data = env.state.data;
  const one = ONE.exec(ctx.path)?.groups;
  if (one) {
    const scope = one.scope ?? '';
    const name = one.name ?? '';
    const key = `${scope}/${name}`.toLowerCase();
    const existing = data.roleAssignments[key];
    if (ctx.method === 'GET') {
      ctx.operation = 'roleAssignments.get';
      return existing
        ? send(ctx, 200, roleAssignmentView(existing))
        : armError(ctx, 404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
    }
    if (ctx.method === 'DELETE') {
      ctx.operation = 'roleAssignments.delete';
      if (!existing) return send(ctx, 204);
      delete data.roleAssignments[key];
      env.state.changed();
      return send(ctx, 200, roleAssignmentView(existing));
    }
    if (ctx.method !== 'PUT')
      return armError(ctx, 405, 'MethodNotAllowed', `${ctx.method} is not supported.`);
    ctx.operation = 'roleAssignments.create';
    if (!GUID.test(name))
      return armError(
        ctx,
        400,
        'InvalidRoleAssignmentId',
        `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
      );
    const p = asRecord(asRecord(jsonBody(ctx))?.properties) ?? {};
    const roleDefinitionId = typeof p.roleDefinitionId === 'string' ? p.roleDefinitionId : '';
    const principalId = typeof p.principalId === 'string' ? p.principalId : '';
    if (!KEY_VAULT_ROLES[roleGuid(roleDefinitionId)]) {
      return armError(
        ctx,
        400,
        'RoleDefinitionDoesNotExist',
        `The specified role definition with ID '${roleGuid(roleDefinitionId)}' does not exist.`,
      );
    }
    if (!data.principals[principalId.toLowerCase()]) {
      return armError(
        ctx,
        400,
        'PrincipalNotFound',
        `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${data.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
      );
    }
    const same = Object.values(data.roleAssignments).find(
      (a) =>
        a.scope.toLowerCase() === scope.toLowerCase() &&
        roleGuid(a.roleDefinitionId) === roleGuid(roleDefinitionId) &&
        a.principalId.toLowerCase() === principalId.toLowerCase(),
    );
    if (existing) {
      if (
        roleGuid(existing.roleDefinitionId) !== roleGuid(roleDefinitionId) ||
        existing.principalId.toLowerCase() !== principalId.toLowerCase()
      ) {
        return armError(
          ctx,
          400,
          'RoleAssignmentUpdateNotPermitted',
          'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
        );
      }
      return send(ctx, 201, roleAssignmentView(existing));
    }
    if (same) return armError(ctx, 409, 'RoleAssignmentExists', 'The role assignment already exists.');
    const view = env.state.addRoleAssignment({
      scope,
      name,
      roleDefinitionId,
      principalId,
      principalType: typeof p.principalType === 'string' ? p.principalType : undefined,
      ...(ctx.claims ? { createdBy: ctx.claims.oid } : {}),
    });
    return send(ctx, 201, view);
  }
  if (LIST.test(ctx.path) && ctx.method === 'GET') {
    ctx.operation = 'roleAssignments.listForScope';
    const scope = (LIST.exec(ctx.path)?.groups?.scope ?? '').toLowerCase();
    const principal = /principalId\s+eq\s+'([^']+)'/i.exec(ctx.query.$filter ?? '')?.[1]?.toLowerCase();
    const atOrAbove = (s: string): boolean =>
      scope === s.toLowerCase() ||
      scope.startsWith(`${s.toLowerCase()}/`) ||
      s.toLowerCase().startsWith(`${scope}/`);
    const value = Object.values(data.roleAssignments)
      .filter((a) => atOrAbove(a.scope) && (!principal || a.principalId.toLowerCase() === principal))
      .map(roleAssignmentView);
    return send(ctx, 200, { value });
  }
  ctx.operation = 'unknown';
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
