/**
 * Finds storage accounts by name in the configured subscriptions, so people can type
 * `rotate stcontoso` instead of a resource id. Uses the real ARM client (paged list).
 */
import type { StorageManagementClient } from '@azure/arm-storage';
import { accountId, parseAccountId, type AccountRef } from '../shared/accounts';
import type { AccountArg, FleetSelector } from './commands';

/** Resolves an account argument to the accounts it may mean (none, one, or several when ambiguous). */
export interface AccountResolver {
  /** Every account with this name in the configured subscriptions. */
  findByName(name: string): Promise<AccountRef[]>;
  /** Every account a fleet selector names: all of its parts must match. */
  select(selector: FleetSelector): Promise<AccountRef[]>;
  /** Whether the account a resource id names exists (Azure answers 404 when it does not). */
  exists?(ref: AccountRef): Promise<boolean>;
}

/** What {@link createArmAccountResolver} needs: the subscriptions and how to make a storage client (called once per subscription). */
export interface ArmAccountResolverOptions {
  subscriptionIds: string[];
  storage: (subscriptionId: string) => StorageManagementClient;
}

/** An {@link AccountResolver} over ARM's `storageAccounts.list()` in each configured subscription. */
export function createArmAccountResolver(options: ArmAccountResolverOptions): AccountResolver {
  const clients = new Map<string, StorageManagementClient>();
  const storage = (subscriptionId: string): StorageManagementClient => {
    let client = clients.get(subscriptionId);
    if (!client) {
      client = options.storage(subscriptionId);
      clients.set(subscriptionId, client);
    }
    return client;
  };
  return {
    async exists(ref) {
      try {
        await storage(ref.subscriptionId).storageAccounts.getProperties(ref.resourceGroup, ref.name);
        return true;
      } catch (error) {
        // Only Azure's "not found" settles it here; anything else is for the run to report.
        if ((error as { statusCode?: number }).statusCode === 404) return false;
        return true;
      }
    },
    async findByName(name) {
      const wanted = name.toLowerCase();
      const found: AccountRef[] = [];
      for (const subscriptionId of options.subscriptionIds) {
        for await (const account of storage(subscriptionId).storageAccounts.list()) {
          if (account.name?.toLowerCase() !== wanted || !account.id) continue;
          found.push(parseAccountId(account.id));
        }
      }
      return found;
    },
    async select(selector) {
      const subscriptions = selector.subscriptionId ? [selector.subscriptionId] : options.subscriptionIds;
      const found: AccountRef[] = [];
      for (const subscriptionId of subscriptions) {
        const client = storage(subscriptionId).storageAccounts;
        const accounts = selector.resourceGroup
          ? client.listByResourceGroup(selector.resourceGroup)
          : client.list();
        try {
          for await (const account of accounts) {
            if (!account.id || !tagMatches(account.tags, selector.tag)) continue;
            found.push(parseAccountId(account.id));
          }
        } catch (error) {
          // A resource group that one subscription does not have selects nothing there.
          if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        }
      }
      return found;
    },
  };
}

/** Tag names compare without case, values exactly (Azure: tag names are case-insensitive for operations). */
function tagMatches(tags: Record<string, string> | undefined, wanted: FleetSelector['tag']): boolean {
  if (!wanted) return true;
  const entry = Object.entries(tags ?? {}).find(([name]) => name.toLowerCase() === wanted.name.toLowerCase());
  return entry !== undefined && (wanted.value === undefined || entry[1] === wanted.value);
}

/** Why an account argument did not resolve to exactly one account. */
export class AccountNotResolved extends Error {
  override readonly name = 'AccountNotResolved';
  constructor(
    message: string,
    /** Resource ids of the candidates when the name is ambiguous. */
    readonly candidates: string[] = [],
  ) {
    super(message);
  }
}

/**
 * Turns what the user typed into one account: a resource id must lie in a configured
 * subscription and name an account that exists (refused before anything starts, as a name that
 * matches nothing is); a name must match exactly one account. Throws {@link AccountNotResolved}.
 */
export async function resolveAccount(
  arg: AccountArg,
  resolver: AccountResolver,
  subscriptionIds: string[],
): Promise<AccountRef> {
  if ('ref' in arg) {
    if (!subscriptionIds.includes(arg.ref.subscriptionId.toLowerCase())) {
      throw new AccountNotResolved(
        `Subscription ${arg.ref.subscriptionId} is not one this bot may change (configured: ${subscriptionIds.join(', ')}).`,
      );
    }
    if (resolver.exists && !(await resolver.exists(arg.ref))) {
      throw new AccountNotResolved(
        `No storage account ${arg.ref.name} in resource group ${arg.ref.resourceGroup} of subscription ${arg.ref.subscriptionId}.`,
      );
    }
    return arg.ref;
  }
  const matches = await resolver.findByName(arg.name);
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) {
    throw new AccountNotResolved(
      `No storage account named "${arg.name}" in the configured subscriptions (${subscriptionIds.join(', ')}).`,
    );
  }
  const ids = matches.map(accountId);
  throw new AccountNotResolved(
    `"${arg.name}" names ${matches.length} storage accounts; use the resource id of the one you mean.`,
    ids,
  );
}
