/**
 * Driving the Microsoft 365 Agents Playground's chat in headless Chromium, as a person would:
 * pick a chat, type into the message box, read and click cards. Screenshots go to test-results/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';

/** Where screenshots are kept as test artifacts (git-ignored). */
export const ARTIFACTS = path.resolve(__dirname, '../../test-results/e2e');

/** Opens the playground and the named chat ("Personal Chat", a group chat or a channel). */
export async function openChat(browser: Browser, chatUrl: string, chat = 'Personal Chat'): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  await page.goto(chatUrl, { waitUntil: 'domcontentloaded' });
  await page.getByText(chat, { exact: true }).first().click({ timeout: 30_000 });
  return page;
}

/** Types a message into the chat box and sends it. */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.locator('[data-lexical-editor="true"][role="textbox"]');
  await box.click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Waits until the chat shows the text (a card's outcome, a reply). */
export async function waitForText(page: Page, text: string | RegExp, timeoutMs = 120_000): Promise<void> {
  await page.getByText(text).last().waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Saves a full-page screenshot under test-results/e2e/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
