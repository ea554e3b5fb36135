import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'updateKeyVersion versionless to the latest version',
  operation: 'updateVersion',
  input: (h, account) => ({ account, target: { kind: 'latest' }, ...h.context }),
});
