import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'changeKey',
  operation: 'changeKey',
  input: (h, account, vault) => ({
    account,
    vault: { name: vault, resourceGroup: h.configureInput(account, vault).vault.resourceGroup },
    key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
    pinVersion: false,
    ...h.context,
  }),
  destructive: ['enableCmk'],
});
