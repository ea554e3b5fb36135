/**
 * The Azure client factory a long-lived worker keeps: one client per subscription, and the most
 * recently used clients per vault and per account only, since each holds its own pipeline and
 * HTTP agent (P3 found a worker that had probed 10,000 accounts holding 10,000 blob clients).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { CLIENTS_KEPT, createAzureClients } from '../../src/activities/azure-clients';
import { SEEDED } from '../kit/azure';

describe('azure clients kept by the worker', () => {
  const clients = () =>
    createAzureClients(
      {
        tenantId: SEEDED.tenantId,
        subscriptionIds: [SEEDED.subscriptionId],
        armEndpoint: 'https://management.azure.com',
      },
      { credential: new ClientSecretCredential(SEEDED.tenantId, 'client', 'secret') },
    );
  const blobOf = (i: number) => `https://st${i}.blob.core.windows.net/`;

  test('when more accounts are probed than the worker keeps clients for, then a recent account gets its client back, and the oldest one is let go and made anew', () => {
    const azure = clients();
    const first = azure.blob(blobOf(0));
    assert.equal(azure.blob(blobOf(0).toUpperCase()), first, 'the same client, whatever the case');
    for (let i = 1; i <= CLIENTS_KEPT.accounts; i++) azure.blob(blobOf(i));
    const recent = azure.blob(blobOf(CLIENTS_KEPT.accounts));
    assert.equal(azure.blob(blobOf(CLIENTS_KEPT.accounts)), recent, 'a recent account keeps its client');
    assert.notEqual(azure.blob(blobOf(0)), first, 'the oldest was let go');
  });

  test('when a client is used again, then it counts as recent and outlives clients used only once before it', () => {
    const azure = clients();
    const kept = azure.keys('https://kv-kept.vault.azure.net/');
    for (let i = 0; i < CLIENTS_KEPT.vaults * 2; i++) {
      azure.keys(`https://kv-${i}.vault.azure.net/`);
      if (i % 16 === 0) assert.equal(azure.keys('https://kv-kept.vault.azure.net/'), kept);
    }
    assert.equal(azure.keys('https://kv-kept.vault.azure.net/'), kept, 'used often, never let go');
    assert.equal(azure.storage(SEEDED.subscriptionId), azure.storage(SEEDED.subscriptionId));
  });
});
