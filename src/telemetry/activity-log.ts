/**
 * One log line per activity attempt, through the activity's own logger, so each line carries the
 * workflow id, run id, activity type and attempt the SDK attaches (and the account the logger adds):
 * `activity completed` with its duration, or `activity failed` with the failure's type.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** The worker's activity interceptor that logs each attempt's outcome. */
export const activityOutcomeLog: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      const started = Date.now();
      try {
        const result = await next(input);
        ctx.log.info('activity completed', { durationMs: Date.now() - started, attempt: ctx.info.attempt });
        return result;
      } catch (error) {
        const failure = error as Error & { type?: string; nonRetryable?: boolean };
        ctx.log.warn('activity failed', {
          durationMs: Date.now() - started,
          attempt: ctx.info.attempt,
          failureType: failure.type ?? failure.name,
          nonRetryable: failure.nonRetryable ?? false,
          error: failure.message,
        });
        throw error;
      }
    },
  },
});
