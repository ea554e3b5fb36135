import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { crc32, inflateRawSync, inflateSync } from 'node:zlib';
import { COMMAND_FORMS } from '../../src/bot/commands';
import {
  PLACEHOLDER_BOT_ID,
  buildTeamsPackage,
  manifestProblems,
  pngSize,
} from '../../scripts/package-teams';

const ROOT = path.resolve(__dirname, '../..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'appPackage/manifest.json'), 'utf8'));

/** Reads a zip's entries from its central directory, checking each CRC. */
function unzip(archive: Buffer): Map<string, Buffer> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(end >= 0, 'no end of central directory');
  const count = archive.readUInt16LE(end + 10);
  let at = archive.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    assert.equal(archive.readUInt32LE(at), 0x02014b50);
    const method = archive.readUInt16LE(at + 10);
    const crc = archive.readUInt32LE(at + 16);
    const packedSize = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    const local = archive.readUInt32LE(at + 42);
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
    const dataStart = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    const packed = archive.subarray(dataStart, dataStart + packedSize);
    const data = method === 8 ? inflateRawSync(packed) : Buffer.from(packed);
    assert.equal(crc32(data), crc, `CRC of ${name}`);
    entries.set(name, data);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Decodes an 8-bit RGBA, non-interlaced PNG into pixels (all five row filters). */
function rgbaPixels(png: Buffer): [number, number, number, number][] {
  const { width, height } = pngSize(png);
  assert.equal(png[24], 8, 'bit depth');
  assert.equal(png[25], 6, 'RGBA colour type');
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    if (png.toString('ascii', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const left = x >= 4 ? out[y * stride + x - 4]! : 0;
      const up = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const upLeft = x >= 4 && y > 0 ? out[(y - 1) * stride + x - 4]! : 0;
      const paeth = (): number => {
        const p = left + up - upLeft;
        const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        return pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      };
      const predictor = [0, left, up, (left + up) >> 1, paeth()][filter]!;
      out[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  const pixels: [number, number, number, number][] = [];
  for (let i = 0; i < out.length; i += 4) pixels.push([out[i]!, out[i + 1]!, out[i + 2]!, out[i + 3]!]);
  return pixels;
}

describe('the Teams app package', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'teams-package-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('when the repository manifest is checked, then it is valid against the vendored v1.24 schema', () => {
    assert.deepEqual(manifestProblems(manifest), []);
    assert.equal(manifest.manifestVersion, '1.24');
    assert.equal(manifest.bots[0].botId, PLACEHOLDER_BOT_ID);
  });

  test('when a manifest breaks the schema, then each problem is named', () => {
    const broken = structuredClone(manifest);
    broken.name.short = 'A name far longer than thirty characters';
    delete broken.developer.privacyUrl;
    broken.bots[0].botId = 'not-a-guid';
    const problems = manifestProblems(broken).join('\n');
    assert.match(problems, /\/name\/short must NOT have more than 30 characters/);
    assert.match(problems, /\/developer must have required property 'privacyUrl'/);
    assert.match(problems, /\/bots\/0\/botId must match pattern/);
  });

  test('when the manifest lists commands, then each is one the bot understands, help first, within the twelve the schema allows', () => {
    const lists = manifest.bots[0].commandLists as { commands: { title: string }[] }[];
    const titles = lists[0]!.commands.map((c) => c.title);
    const words = COMMAND_FORMS.map((c) => c.word);
    assert.equal(titles[0], 'help', 'help (which lists every command) comes first');
    assert.ok(titles.length <= 12, `${titles.length} commands`);
    for (const title of titles) assert.ok(words.includes(title), `${title} is a command`);
  });

  test('when the package is built with a bot id, then the zip holds the manifest with that id and both icons at its root', () => {
    const botId = '2b7f3c1d-9e8a-4b6c-8d5e-1f2a3b4c5d6e';
    const { outFile } = buildTeamsPackage({ botId, outFile: path.join(dir, 'appPackage.zip') });
    const entries = unzip(readFileSync(outFile));
    assert.deepEqual([...entries.keys()].sort(), ['color.png', 'manifest.json', 'outline.png']);
    const packaged = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
    assert.equal(packaged.bots[0].botId, botId);
    assert.deepEqual(manifestProblems(packaged), []);
    assert.deepEqual(pngSize(entries.get('color.png')!), { width: 192, height: 192 });
    assert.deepEqual(pngSize(entries.get('outline.png')!), { width: 32, height: 32 });
  });

  test('when the bot id is not a GUID, then no package is written', () => {
    assert.throws(
      () => buildTeamsPackage({ botId: 'my-bot', outFile: path.join(dir, 'bad.zip') }),
      /MicrosoftAppId must be a GUID/,
    );
  });

  test('when the outline icon is checked, then it is white on a transparent background', () => {
    const pixels = rgbaPixels(readFileSync(path.join(ROOT, 'appPackage/outline.png')));
    assert.ok(pixels.every(([r, g, b, a]) => a === 0 || (r === 255 && g === 255 && b === 255)));
    const transparent = pixels.filter(([, , , a]) => a === 0).length;
    assert.ok(
      transparent > pixels.length / 2 && transparent < pixels.length,
      'a shape on a transparent background',
    );
  });
});
