/** Microsoft.ManagedIdentity user-assigned identities: GET and PUT (create keeps ids stable). */
import { armError, asRecord, jsonBody, resourceNotFound, route, send, type Ctx, type Env } from '../http';
import { identityResourceId } from '../model';
import { identityView } from '../views';

const ONE =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/(?<name>[^/]+)$/i;

/** Answers user-assigned identity requests. */
export function handleMsi(ctx: Ctx, env: Env): void {
  const data = env.state.data;
  const get = route(ctx, 'GET', ONE);
  if (get) {
    ctx.operation = 'userAssignedIdentities.get';
    const i = data.identities[ctx.path.toLowerCase()];
    return i
      ? send(ctx, 200, identityView(data, i))
      : resourceNotFound(
          ctx,
          'Microsoft.ManagedIdentity/userAssignedIdentities',
          get.name ?? '',
          get.rg ?? '',
        );
  }
  const put = route(ctx, 'PUT', ONE);
  if (put) {
    ctx.operation = 'userAssignedIdentities.createOrUpdate';
    const body = asRecord(jsonBody(ctx)) ?? {};
    const id = identityResourceId({
      subscriptionId: put.sub ?? '',
      resourceGroup: put.rg ?? '',
      name: put.name ?? '',
    });
    const existing = data.identities[id.toLowerCase()];
    if (existing) {
      if (body.tags) existing.tags = body.tags as Record<string, string>;
      env.state.changed();
      return send(ctx, 200, identityView(data, existing));
    }
    if (typeof body.location !== 'string')
      return armError(ctx, 400, 'LocationRequired', 'The location property is required for this definition.');
    const view = env.state.addUserAssignedIdentity({
      subscriptionId: put.sub ?? '',
      resourceGroup: put.rg ?? '',
      name: put.name ?? '',
      location: body.location,
    });
    return send(ctx, 201, view);
  }
  ctx.operation = 'unknown';
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
