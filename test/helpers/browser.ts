/**
 * The one headless Chromium every browser test uses, found at run time: `CHROMIUM_PATH`, then a
 * Chromium or Chrome on the PATH, then the build the `@sparticuz/chromium` devDependency ships
 * inside its npm package (so a machine with no browser at all still runs the suite, offline).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

/** Flags for a headless browser on a machine with no network of its own and no user namespace. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Browser names looked up on the PATH, in order. */
const SYSTEM_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/** Where a candidate browser came from, for the message when none starts. */
interface Candidate {
  source: string;
  executablePath: () => Promise<string>;
}

let found: Promise<string> | undefined;

/** Launches headless Chromium; the executable is located once per process. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  found ??= locateChromium();
  const executablePath = await found;
  return chromium.launch({ ...options, executablePath, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}

/** The first candidate that starts, or an error saying what was tried and how to fix it. */
export async function locateChromium(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const tried: string[] = [];
  for (const candidate of candidates(env)) {
    try {
      const executablePath = await candidate.executablePath();
      const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
      await browser.close();
      return executablePath;
    } catch (error) {
      tried.push(`${candidate.source}: ${firstLine(error)}`);
    }
  }
  throw new Error(
    `No headless Chromium starts on this machine. Tried:\n  - ${tried.join('\n  - ')}\n` +
      'Set CHROMIUM_PATH to a Chromium or Chrome executable, or run `npm ci` so the devDependency @sparticuz/chromium is installed.',
  );
}

function candidates(env: NodeJS.ProcessEnv): Candidate[] {
  const list: Candidate[] = [];
  const configured = env.CHROMIUM_PATH?.trim();
  if (configured)
    list.push({ source: `CHROMIUM_PATH=${configured}`, executablePath: async () => configured });
  for (const name of SYSTEM_BROWSERS) {
    const onPath = whichSync(name, env.PATH ?? '');
    if (onPath) list.push({ source: `${name} on the PATH (${onPath})`, executablePath: async () => onPath });
  }
  list.push({
    source: 'the Chromium shipped in @sparticuz/chromium',
    executablePath: async () => {
      const shipped = (await import('@sparticuz/chromium')).default;
      return shipped.executablePath();
    },
  });
  return list;
}

function whichSync(name: string, pathVariable: string): string | undefined {
  for (const dir of pathVariable.split(path.delimiter).filter(Boolean)) {
    const full = path.join(dir, name);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0] ?? 'failed';
}
