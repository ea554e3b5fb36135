/**
 * Microsoft.Authorization role assignments at any scope (PUT/GET/DELETE, list with a principal
 * filter, which like Azure's returns assignments at, above and below the scope, management
 * groups included) and role definitions (GET by id; PUT of custom roles). New and deleted
 * assignments take effect on the data planes only after the propagation delay.
 */
import { armError, asRecord, dispatch, jsonBody, send, type Ctx, type Env, type Route } from '../http';
import { roleDefinitionOf, roleDefinitionView, roleGuid, scopeCovers, type RolePermissions } from '../roles';
import { roleAssignmentView } from '../views';

const ONE = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleAssignments\/(?<name>[^/]+)$/i;
const LIST = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleAssignments$/i;
const DEFINITION = /^(?<scope>.*)\/providers\/Microsoft\.Authorization\/roleDefinitions\/(?<name>[^/]+)$/i;
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
  if (!roleDefinitionOf(data, roleDefinitionId)) {
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

/** Assignments at, above (management groups included) and below the scope, optionally for one principal. */
function listAssignments(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const data = env.state.data;
  const scope = g.scope ?? '';
  const principal = /principalId\s+eq\s+'([^']+)'/i.exec(ctx.query.$filter ?? '')?.[1]?.toLowerCase();
  const value = Object.values(data.roleAssignments)
    .filter(
      (a) =>
        (scopeCovers(data, a.scope, scope) || scopeCovers(data, scope, a.scope)) &&
        (!principal || a.principalId.toLowerCase() === principal),
    )
    .map(roleAssignmentView);
  return send(ctx, 200, { value });
}

const definitionId = (g: Record<string, string>): string =>
  `${g.scope ?? ''}/providers/Microsoft.Authorization/roleDefinitions/${g.name ?? ''}`;

/** GET a built-in or custom role definition by id. */
function getDefinition(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const role = roleDefinitionOf(env.state.data, g.name ?? '');
  return role
    ? send(ctx, 200, roleDefinitionView(role, definitionId(g)))
    : armError(
        ctx,
        404,
        'RoleDefinitionDoesNotExist',
        `The specified role definition with ID '${roleGuid(g.name ?? '')}' does not exist.`,
      );
}

/** PUT a custom role definition, its permissions as given; built-in roles cannot be changed. */
function putDefinition(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const name = g.name ?? '';
  const p = asRecord(asRecord(jsonBody(ctx))?.properties) ?? {};
  if (!GUID.test(name) || typeof p.roleName !== 'string' || !Array.isArray(p.permissions))
    return armError(
      ctx,
      400,
      'InvalidRoleDefinition',
      'A custom role needs a GUID name, roleName and permissions.',
    );
  if (roleDefinitionOf(env.state.data, name)?.type === 'BuiltInRole')
    return armError(ctx, 400, 'RoleDefinitionUpdateNotPermitted', 'Built-in roles cannot be changed.');
  const role = env.state.addRoleDefinition({
    name,
    roleName: p.roleName,
    description: typeof p.description === 'string' ? p.description : '',
    assignableScopes: Array.isArray(p.assignableScopes) ? p.assignableScopes.map(String) : [g.scope ?? ''],
    permissions: (p.permissions as Partial<RolePermissions>[]).map((x) => ({
      actions: x.actions ?? [],
      notActions: x.notActions ?? [],
      dataActions: x.dataActions ?? [],
      notDataActions: x.notDataActions ?? [],
    })),
  });
  return send(ctx, 201, roleDefinitionView(role, definitionId(g)));
}

const ROUTES: readonly Route[] = [
  { method: 'GET', pattern: ONE, operation: 'roleAssignments.get', handle: getAssignment },
  { method: 'DELETE', pattern: ONE, operation: 'roleAssignments.delete', handle: deleteAssignment },
  { method: 'PUT', pattern: ONE, operation: 'roleAssignments.create', handle: putAssignment },
  { method: 'GET', pattern: LIST, operation: 'roleAssignments.listForScope', handle: listAssignments },
  { method: 'GET', pattern: DEFINITION, operation: 'roleDefinitions.get', handle: getDefinition },
  { method: 'PUT', pattern: DEFINITION, operation: 'roleDefinitions.createOrUpdate', handle: putDefinition },
];

/** Answers role-assignment and role-definition requests. */
export async function handleAuthorization(ctx: Ctx, env: Env): Promise<void> {
  if (await dispatch(ctx, env, ROUTES)) return;
  ctx.operation = 'unknown';
  if (ONE.test(ctx.path) || DEFINITION.test(ctx.path))
    return armError(ctx, 405, 'MethodNotAllowed', `${ctx.method} is not supported.`);
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
