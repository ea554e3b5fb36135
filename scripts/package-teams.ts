/**
 * `npm run package:teams`: builds `dist/appPackage.zip` for sideloading into Teams — the
 * manifest (with `bots[0].botId` from `MicrosoftAppId`) and both icons at the root of the
 * archive — after checking the manifest against the vendored schema and the icon sizes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import Ajv from 'ajv';

const ROOT = path.resolve(__dirname, '..');
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The placeholder bot id the repository's manifest carries. */
export const PLACEHOLDER_BOT_ID = '00000000-0000-0000-0000-000000000000';

/** Where the package comes from and goes to; defaults are the repository's. */
export interface TeamsPackageOptions {
  /** The bot's Entra app id; the placeholder stays when absent. */
  botId?: string;
  sourceDir?: string;
  outFile?: string;
}

/** The manifest fields the packager reads or changes. */
interface Manifest {
  icons: { color: string; outline: string };
  bots?: { botId: string }[];
}

/** Validates and zips the app package; throws with every problem found. Returns the zip path and manifest. */
export function buildTeamsPackage(options: TeamsPackageOptions = {}): {
  outFile: string;
  manifest: Manifest;
} {
  const sourceDir = options.sourceDir ?? path.join(ROOT, 'appPackage');
  const outFile = options.outFile ?? path.join(ROOT, 'dist', 'appPackage.zip');
  const manifest = JSON.parse(readFileSync(path.join(sourceDir, 'manifest.json'), 'utf8')) as Manifest;
  if (options.botId !== undefined) {
    if (!GUID.test(options.botId)) throw new Error(`MicrosoftAppId must be a GUID (got "${options.botId}")`);
    for (const bot of manifest.bots ?? []) bot.botId = options.botId;
  }
  const problems = manifestProblems(manifest);
  const icons = { [manifest.icons.color]: 192, [manifest.icons.outline]: 32 };
  const files: [string, Buffer][] = [
    ['manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)],
  ];
  for (const [name, size] of Object.entries(icons)) {
    const png = readFileSync(path.join(sourceDir, name));
    const { width, height } = pngSize(png);
    if (width !== size || height !== size)
      problems.push(`${name} is ${width}×${height}; Teams needs ${size}×${size}`);
    files.push([name, png]);
  }
  if (problems.length) throw new Error(`The Teams app package is not valid:\n  - ${problems.join('\n  - ')}`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, zip(files));
  return { outFile, manifest };
}

/** Problems of a manifest against the vendored v1.24 schema subset, in words. */
export function manifestProblems(manifest: unknown): string[] {
  const schema = JSON.parse(
    readFileSync(path.join(ROOT, 'vendor/schemas/teams-manifest-1.24.subset.json'), 'utf8'),
  ) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  const validate = ajv.compile(schema);
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is not valid'}`);
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || png.readUInt32BE(0) !== 0x89504e47 || png.toString('ascii', 12, 16) !== 'IHDR') {
    throw new Error('not a PNG file');
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** A zip archive (deflated entries, no folders) of the given files. */
function zip(files: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    const packed = deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

if (require.main === module) {
  try {
    const botId = process.env.MicrosoftAppId?.trim() || undefined;
    const { outFile } = buildTeamsPackage(botId ? { botId } : {});
    console.log(`Teams app package written to ${path.relative(process.cwd(), outFile)}`);
    if (!botId)
      console.warn(
        `MicrosoftAppId is not set: the package carries the placeholder bot id ${PLACEHOLDER_BOT_ID}.`,
      );
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
