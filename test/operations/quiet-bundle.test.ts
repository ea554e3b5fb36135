import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { bundleQuietly } from '../../worker';

describe('the worker started from source (npm start)', () => {
  test('when it bundles the workflows, then the log gets one line with the time it took and none of webpack’s module report', async () => {
    const entries: LogEntry[] = [];
    Runtime.install({ logger: new DefaultLogger('TRACE', (entry) => entries.push(entry)) });
    const { code } = await bundleQuietly(false);
    assert.ok(code.length > 100_000, 'a bundle was made');
    const lines = entries.map((e) => `${e.level} ${e.message}`);
    assert.deepEqual(
      lines.filter((l) => /bundled from source/.test(l)),
      ['INFO workflows bundled from source'],
    );
    assert.deepEqual(
      lines.filter((l) => /webpack|compiled|modules|asset/i.test(l)),
      [],
      'webpack reports nothing at INFO and below',
    );
  });
});
