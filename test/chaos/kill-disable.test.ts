import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'disableCmk',
  operation: 'disable',
  input: (h, account) => ({ account, ...h.context }),
  destructive: ['disableCmk'],
});
