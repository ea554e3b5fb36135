import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locateChromium } from '../helpers/browser';

describe('the browser the tests use', () => {
  it('when CHROMIUM_PATH names no browser and none is on the PATH, then the Chromium shipped in the npm package is used', async () => {
    const found = await locateChromium({ CHROMIUM_PATH: '/nonexistent/chromium', PATH: '' });
    assert.notEqual(found, '/nonexistent/chromium');
    assert.match(found, /chromium/i);
  });
});
