/**
 * Key Vault's key create and rotate are POSTs that make a new version each time they are
 * carried out. When the connection drops after Key Vault carried one out, the SDK's retry policy
 * would send it again and make a second version. This policy, placed inside the retry loop,
 * turns a network failure of such a request into `AnswerLost`, which the SDK does not retry;
 * the activity fails as a transient error and its next attempt reads Key Vault (the key exists,
 * tagged with the run) instead of sending the request again.
 *
 * A create Key Vault answers 429 is not sent again in process either: the SDK would wait out the
 * Retry-After and send it outside the pacing of Temporal's queue of creates (each vault held to
 * its create limit across workers), landing on top of the creates that queue dispatches in the
 * next window, which then draw 429s of their own. The activity fails as throttled, with the
 * Retry-After as its next retry's delay, and its retry goes through the queue again.
 */
import { RestError, type PipelinePolicy } from '@azure/core-rest-pipeline';

/** Requests that make something new each time Key Vault carries them out. */
const NOT_IDEMPOTENT = /\/keys\/[^/]+\/(create|rotate|import)$/i;

/** The error code a lost answer to a non-idempotent Key Vault request gets. */
export const ANSWER_LOST = 'AnswerLost';

/** The error code of a create Key Vault throttled, which is not sent again in process. */
const THROTTLED_CREATE = 'ThrottledCreate';

/** See the module comment. */
export function noBlindRetryPolicy(): PipelinePolicy {
  return {
    name: 'cmkNoBlindRetry',
    async sendRequest(request, next) {
      const { pathname } = new URL(request.url);
      if (request.method !== 'POST' || !NOT_IDEMPOTENT.test(pathname)) return next(request);
      let response;
      try {
        response = await next(request);
      } catch (error) {
        // An answer that arrived (any HTTP status) is Key Vault's word and is retried as usual.
        if (error instanceof RestError && error.statusCode !== undefined) throw error;
        throw new RestError(
          `The answer to POST ${pathname} was lost ` +
            `(${(error as Error).message}); Key Vault may have carried it out, so it is not sent again blindly.`,
          { code: ANSWER_LOST, request },
        );
      }
      if (response.status !== 429) return response;
      // Without the response, the SDK's retry strategies have nothing to retry on.
      throw Object.assign(
        new RestError(
          `Key Vault throttled POST ${pathname} (429); it is retried through the queue of creates.`,
          {
            code: THROTTLED_CREATE,
            statusCode: 429,
            request,
          },
        ),
        // Read by the activity's error classification for its next retry's delay.
        { throttledResponseHeaders: response.headers },
      );
    },
  };
}
