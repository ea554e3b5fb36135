/**
 * The smoke's clean-up: delete the resource group (its storage accounts, identity, vaults and the
 * role assignments at scopes inside it go with it), then read back what stays. Vaults are
 * purge-protected, as customer-managed keys require: a deleted one stays soft-deleted for its
 * retention days, cannot be purged, and keeps its (unique, run-stamped) name until then.
 */
import type { SetupContext } from './resources';

/** Deletes what the run made unless `keep`; returns what is left in Azure, in words. */
export async function cleanUp(
  c: SetupContext,
  { keep, log }: { keep: boolean; log: (line: string) => void },
): Promise<string[]> {
  const rg = c.names.resourceGroup;
  const remove = `az group delete --name ${rg} --subscription ${c.subscriptionId} --yes`;
  if (keep)
    return [
      `resource group ${rg}: kept (--keep) with everything in it; remove it with: ${remove}`,
      `its vaults ${c.names.rbacVault} and ${c.names.accessPolicyVault} are purge-protected: once deleted they stay soft-deleted for their retention days`,
    ];
  const left: string[] = [];
  log(`clean-up: deleting resource group ${rg} …`);
  try {
    await c.groups.deleteAndWait(rg, { pollIntervalMs: c.pollMs });
    const still = await c.groups.get(rg);
    if (still)
      left.push(`resource group ${rg}: still there (${still.properties?.provisioningState}); ${remove}`);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ResourceGroupNotFound')
      left.push(`resource group ${rg}: NOT deleted (${(error as Error).message}); remove it with: ${remove}`);
  }
  left.push(...(await leftoverAssignments(c)), ...(await softDeletedVaults(c)));
  return left;
}

/** The caller's role assignments still at scopes inside the deleted group (Azure removes them with it). */
async function leftoverAssignments(c: SetupContext): Promise<string[]> {
  const prefix = `/subscriptions/${c.subscriptionId}/resourcegroups/${c.names.resourceGroup}`.toLowerCase();
  const left: string[] = [];
  try {
    for await (const a of c.azure
      .authorization(c.subscriptionId)
      .roleAssignments.listForScope(`/subscriptions/${c.subscriptionId}`, {
        filter: `principalId eq '${c.callerObjectId}'`,
      }))
      if ((a.scope ?? '').toLowerCase().startsWith(prefix)) left.push(`role assignment ${a.id}: still there`);
  } catch (error) {
    left.push(`role assignments: could not list the caller's (${(error as Error).message})`);
  }
  return left;
}

/** Each vault the run made, as Key Vault keeps it after the group's deletion. */
async function softDeletedVaults(c: SetupContext): Promise<string[]> {
  const left: string[] = [];
  for (const name of [c.names.rbacVault, c.names.accessPolicyVault]) {
    try {
      const deleted = await c.azure.keyVault(c.subscriptionId).vaults.getDeleted(name, c.location);
      const until = deleted.properties?.scheduledPurgeDate?.toISOString() ?? 'its retention days';
      left.push(
        `vault ${name}: soft-deleted with purge protection; it cannot be purged and Azure removes it on ${until} (its name stays taken until then)`,
      );
    } catch (error) {
      // 404: the run never got as far as making this vault.
      if ((error as { statusCode?: number }).statusCode !== 404)
        left.push(`vault ${name}: could not read its soft-deleted state (${(error as Error).message})`);
    }
  }
  return left;
}
