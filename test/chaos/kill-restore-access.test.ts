import assert from 'node:assert/strict';
import { describeKillSuite } from './kill-runbook';

describeKillSuite({
  name: 'restoreAccess after revokeAccess --disable-key',
  operation: 'restoreAccess',
  // Each case restores an account a revoke (grant removed, key version disabled) cut off.
  async prepare(h, account) {
    const revoked = await h.drive(await h.start('revoke', { account, disableKey: true, ...h.context }));
    assert.equal(revoked.result.outcome, 'succeeded', revoked.result.message);
  },
  input: (h, account) => ({ account, ...h.context }),
});
