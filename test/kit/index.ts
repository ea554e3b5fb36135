/**
 * The dev kit: the pieces every test suite, benchmark and script starts the product from, each a
 * handle with `close()`. Temporal ({@link temporal}, the run's dev server), the local Azure with
 * seeded accounts ({@link localAzure}), a worker from the production factory ({@link startWorker}),
 * the bot's real endpoint ({@link startBot}) and a chat recorder standing in for Teams
 * ({@link chatRecorder}). `suite.ts` binds them to a node:test suite.
 */
export {
  FAST_TIMING,
  QUICK_RETRY,
  SEEDED,
  kitAzureOf,
  localAzure,
  nameSuffix,
  ownDataDir,
  quickAzure,
  type KitAzure,
} from './azure';
export {
  NO_ACCOUNTS,
  botServerOptions,
  chatPortFor,
  localBot,
  registeredBot,
  startBot,
  type BotServer,
  type KitBotOptions,
} from './bot';
export { ChatRecorder, chatRecorder, type RecordedCard, type RecordedConversation } from './chat-recorder';
export { personalChat, postActivity, teamsActivity, type TeamsContext } from './teams';
export { startWorker, type KitWorker, type KitWorkerOptions } from './worker';
export { testEnv as temporal, uniqueId, workflowBundle } from '../helpers/temporal';
export {
  offlineAuth,
  startRecordingConnector,
  startTokenAuthority,
  stubOutbound,
  type RecordingConnector,
  type TokenAuthority,
} from '../bot/channel';
