import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'changeKey',
  operation: 'changeKey',
  input: (h, account, vault) => h.changeKeyInput(account, vault),
  destructive: ['enableCmk'],
});
