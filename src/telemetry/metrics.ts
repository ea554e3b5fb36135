/**
 * cmk-runbook's own Prometheus metrics (prom-client), one registry per process. The worker adds
 * Temporal's runtime metrics (Core's Prometheus exporter) to the same `/metrics` page.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RefusalType } from '../shared/refusals';

/** Where a refusal was met: a chat command, a card click, or an activity the endpoint turned away. */
export type RefusedRequest = 'command' | 'click' | 'activity';

/** The metrics one process exposes. */
export interface CmkMetrics {
  registry: Registry;
  /** cmk_bot_commands_total{command}: chat commands the bot answered. */
  commands: Counter<'command'>;
  /** cmk_bot_card_actions_total{verb,outcome}: card clicks (approve, reject, refresh) and how they ended. */
  cardActions: Counter<'verb' | 'outcome'>;
  /** cmk_bot_decision_seconds{verdict}: a click's decision, from the invoke to the workflow's answer. */
  decisionSeconds: Histogram<'verdict'>;
  /**
   * cmk_bot_refusals_total{reason,request}: what the bot or the workflow refused, by the refusal's
   * class (`reason`, a {@link RefusalType}) and by what was refused.
   */
  refusals: Counter<'reason' | 'request'>;
  /** cmk_teams_delivery_retries_total{status}: calls into Teams retried after 412/429/502/504. */
  deliveryRetries: Counter<'status'>;
  /** cmk_azure_requests_total{service,status}: Azure answers the SDK clients received (429 included). */
  azureRequests: Counter<'service' | 'status'>;
}

/** A fresh registry with cmk-runbook's metrics and Node's process metrics. */
export function createMetrics(process: 'worker' | 'bot' | 'codec-server'): CmkMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ process });
  collectDefaultMetrics({ register: registry, prefix: 'cmk_' });
  return {
    registry,
    commands: new Counter({
      name: 'cmk_bot_commands_total',
      help: 'Chat commands the bot answered, by command word.',
      labelNames: ['command'],
      registers: [registry],
    }),
    cardActions: new Counter({
      name: 'cmk_bot_card_actions_total',
      help: 'Card clicks by verb and outcome (recorded, refused, shown, failed).',
      labelNames: ['verb', 'outcome'],
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: 'cmk_bot_decision_seconds',
      help: 'Time from a click on Approve/Reject to the workflow accepting or refusing it.',
      labelNames: ['verdict'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'cmk_bot_refusals_total',
      help: 'Commands, clicks and activities refused, by refusal class (reason) and what was refused (request).',
      labelNames: ['reason', 'request'],
      registers: [registry],
    }),
    deliveryRetries: new Counter({
      name: 'cmk_teams_delivery_retries_total',
      help: 'Calls into Teams retried, by the HTTP status that caused the retry.',
      labelNames: ['status'],
      registers: [registry],
    }),
    azureRequests: new Counter({
      name: 'cmk_azure_requests_total',
      help: 'Responses from Azure (ARM, Key Vault, Storage) by service and HTTP status.',
      labelNames: ['service', 'status'],
      registers: [registry],
    }),
  };
}

/** Counts one refusal in `cmk_bot_refusals_total`, by its class. */
export function countRefusal(
  metrics: Pick<CmkMetrics, 'refusals'> | undefined,
  refusal: { readonly name: RefusalType },
  request: RefusedRequest,
): void {
  metrics?.refusals.inc({ reason: refusal.name, request });
}

/** Counts runs matching a visibility query (the bot passes `client.workflow.count`). */
export type CountRuns = (query: string) => Promise<number>;

/**
 * `cmk_runs_awaiting_approval{age}`: runs waiting for approval now (`any`), and those started more
 * than half the approval deadline ago (`over_half_deadline`), read from Temporal's visibility on
 * each scrape, so one alert catches approvers who are not answering before runs expire.
 */
export function registerApprovalBacklog(metrics: CmkMetrics, count: CountRuns, deadlineMs: number): void {
  const waiting = 'CmkStage = "awaiting-approval" AND ExecutionStatus = "Running"';
  new Gauge({
    name: 'cmk_runs_awaiting_approval',
    help: 'Runs waiting for approval; age=over_half_deadline: started more than half the approval deadline ago.',
    labelNames: ['age'],
    registers: [metrics.registry],
    async collect() {
      const before = new Date(Date.now() - deadlineMs / 2).toISOString();
      const [all, late] = await Promise.all([
        count(waiting),
        count(`${waiting} AND StartTime < "${before}"`),
      ]);
      this.set({ age: 'any' }, all);
      this.set({ age: 'over_half_deadline' }, late);
    },
  });
}
