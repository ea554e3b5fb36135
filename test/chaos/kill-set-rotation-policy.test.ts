import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'setRotationPolicy on a named key',
  operation: 'setRotationPolicy',
  input: (h, _account, vault) => ({
    key: { vault, name: 'cmk-key' },
    rotateAfter: 'P90D',
    expiresAfter: 'P1Y',
    ...h.context,
  }),
});
