/** Every request the local Azure answered, queryable, e.g. to prove no destructive call went out unapproved. */

/** The service that answered a request. */
export type ServiceName = 'entra' | 'arm' | 'keyvault' | 'blob' | 'admin';

/** One answered request. */
export interface RequestLogEntry {
  at: string;
  method: string;
  host: string;
  path: string;
  query: Record<string, string>;
  service: ServiceName;
  /** A stable operation name, e.g. `vaults.createOrUpdate`, `keys.wrapKey`, `storageAccounts.update`. */
  operation: string;
  principalId?: string;
  status: number;
  errorCode?: string;
  /** Carried out, but the answer was dropped by an injected fault. */
  answerLost?: boolean;
  /** Never carried out: the connection was reset by an injected fault (status 0). */
  connectionReset?: boolean;
  /** Carried out, its answer held this long by an injected fault. */
  answeredLateMs?: number;
}

/** A filter: every given field must match (operation and path also accept a RegExp). */
export interface RequestLogFilter {
  method?: string;
  service?: ServiceName;
  operation?: string | RegExp;
  path?: string | RegExp;
  principalId?: string;
  status?: number;
  since?: Date;
}

const KV_MUTATIONS = /^keys\.(create|update|rotate|delete|recover|purge|setRotationPolicy)$/;

function matches(value: string | undefined, want: string | RegExp | undefined): boolean {
  if (want === undefined) return true;
  if (value === undefined) return false;
  return typeof want === 'string' ? value.toLowerCase() === want.toLowerCase() : want.test(value);
}

/** The request log; bounded so a long-running demo does not grow without limit. */
export class RequestLog {
  private readonly items: RequestLogEntry[] = [];

  constructor(private readonly limit = 100_000) {}

  /** Appends an entry (the emulator does this for every request). */
  add(entry: RequestLogEntry): void {
    this.items.push(entry);
    if (this.items.length > this.limit) this.items.splice(0, this.items.length - this.limit);
  }

  /** Entries in arrival order that match the filter. */
  entries(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.items.filter(
      (e) =>
        matches(e.method, filter.method) &&
        (filter.service === undefined || e.service === filter.service) &&
        matches(e.operation, filter.operation) &&
        matches(e.path, filter.path) &&
        matches(e.principalId, filter.principalId) &&
        (filter.status === undefined || e.status === filter.status) &&
        (filter.since === undefined || e.at >= filter.since.toISOString()),
    );
  }

  /** Write attempts: PUT/PATCH/POST/DELETE on ARM (except read-only POSTs) and mutating Key Vault operations; unauthenticated challenges (401) are left out. */
  writes(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.entries(filter).filter(
      (e) =>
        e.status !== 401 &&
        ((e.service === 'arm' && e.method !== 'GET' && e.operation !== 'vaults.checkNameAvailability') ||
          (e.service === 'keyvault' && KV_MUTATIONS.test(e.operation))),
    );
  }

  /** Forgets every entry. */
  clear(): void {
    this.items.length = 0;
  }
}
