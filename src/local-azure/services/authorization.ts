/**
 * Microsoft.Authorization role assignments at any scope (PUT/GET/DELETE, list with a principal
 * filter). New assignments take effect on the data plane only after the propagation delay.
 */
import { armError, asRecord, dispatch, jsonBody, send, type Ctx, type Env, type Route } from '../http';
import { BUILT_IN_ROLES, roleGuid } from '../model';
import { roleAssignmentView } from '../views';

const ONE = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleAssignments\/(?<name>[^/]+)$/i;
const LIST = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleAssignments$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const keyOf = (g: Record<string, string>): string => `${g.scope ?? ''}/${g.name ?? ''}`.toLowerCase();

function getAssignment(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const existing = env.state.data.roleAssignments[keyOf(g)];
  return existing
    ? send(ctx, 200, roleAssignmentView(existing))
    : armError(ctx, 404, 'RoleAssignmentNotFound', `The role assignment '${g.name}' is not found.`);
}

function deleteAssignment(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const existing = env.state.data.roleAssignments[keyOf(g)];
  if (!existing) return send(ctx, 204);
  env.state.deleteRoleAssignment(keyOf(g));
  return send(ctx, 200, roleAssignmentView(existing));
}

function putAssignment(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const data = env.state.data;
  const scope = g.scope ?? '';
  const name = g.name ?? '';
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
  if (!BUILT_IN_ROLES[roleGuid(roleDefinitionId)]) {
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
  const sameGrant = (a: { roleDefinitionId: string; principalId: string }): boolean =>
    roleGuid(a.roleDefinitionId) === roleGuid(roleDefinitionId) &&
    a.principalId.toLowerCase() === principalId.toLowerCase();
  const existing = data.roleAssignments[keyOf(g)];
  if (existing) {
    if (!sameGrant(existing))
      return armError(
        ctx,
        400,
        'RoleAssignmentUpdateNotPermitted',
        'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
      );
    return send(ctx, 201, roleAssignmentView(existing));
  }
  if (
    Object.values(data.roleAssignments).some(
      (a) => a.scope.toLowerCase() === scope.toLowerCase() && sameGrant(a),
    )
  )
    return armError(ctx, 409, 'RoleAssignmentExists', 'The role assignment already exists.');
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

function listAssignments(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const scope = (g.scope ?? '').toLowerCase();
  const principal = /principalId\s+eq\s+'([^']+)'/i.exec(ctx.query.$filter ?? '')?.[1]?.toLowerCase();
  const atOrAbove = (s: string): boolean =>
    scope === s.toLowerCase() ||
    scope.startsWith(`${s.toLowerCase()}/`) ||
    s.toLowerCase().startsWith(`${scope}/`);
  const value = Object.values(env.state.data.roleAssignments)
    .filter((a) => atOrAbove(a.scope) && (!principal || a.principalId.toLowerCase() === principal))
    .map(roleAssignmentView);
  return send(ctx, 200, { value });
}

const ROUTES: readonly Route[] = [
  { method: 'GET', pattern: ONE, operation: 'roleAssignments.get', handle: getAssignment },
  { method: 'DELETE', pattern: ONE, operation: 'roleAssignments.delete', handle: deleteAssignment },
  { method: 'PUT', pattern: ONE, operation: 'roleAssignments.create', handle: putAssignment },
  { method: 'GET', pattern: LIST, operation: 'roleAssignments.listForScope', handle: listAssignments },
];

/** Answers role-assignment requests. */
export async function handleAuthorization(ctx: Ctx, env: Env): Promise<void> {
  if (await dispatch(ctx, env, ROUTES)) return;
  ctx.operation = 'unknown';
  if (ONE.test(ctx.path)) return armError(ctx, 405, 'MethodNotAllowed', `${ctx.method} is not supported.`);
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
