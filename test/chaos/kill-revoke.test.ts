import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'revokeAccess --disable-key',
  operation: 'revoke',
  input: (h, account) => ({ account, disableKey: true, ...h.context }),
  destructive: ['revokeAccess', 'disableKeyVersion'],
});
