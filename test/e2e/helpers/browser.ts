import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = join(process.cwd(), 'docs', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install it with "apt-get update && apt-get install -y chromium"`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser profile (its own cookies), so each test starts signed out. */
async function newPage(
  browser: Browser,
  baseUrl: string,
  viewport = { width: 1280, height: 860 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport, locale: 'en-GB', timezoneId: 'UTC' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

/**
 * Runs a test in a fresh browser profile (signed out) and fails it on any script error or CSP violation the page
 * reported.
 */
export async function withCleanPage(
  browser: Browser,
  baseUrl: string,
  run: (page: Page) => Promise<void>,
): Promise<void> {
  const { context, page } = await newPage(browser, baseUrl);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A refused request (401 before sign-in, a 4xx the page shows) is logged by the browser; that is not a bug.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
      problems.push(`console: ${msg.text()}`);
  });
  try {
    await run(page);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
}

export async function signIn(page: Page, email: string, password: string, path = '/complaints'): Promise<void> {
  await page.goto(path);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Waits until the locator shows the text, failing with what it showed instead. */
export async function expectText(locator: ReturnType<Page['locator']>, text: string | RegExp): Promise<void> {
  try {
    await locator.filter({ hasText: text }).first().waitFor();
  } catch {
    const shown = await locator.allInnerTexts().catch(() => []);
    expect(shown.join('\n'), `expected to see ${String(text)}`).toMatch(
      typeof text === 'string' ? new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : text,
    );
  }
}

/**
 * On the webhooks page, the card of a new endpoint: the page shows it at once when the company has none, or after
 * "Add endpoint" when it has some. Waits for the list to be loaded before deciding which, since the heading shows
 * before it.
 */
export async function newWebhookCard(page: Page): Promise<Locator> {
  const add = page.getByRole('button', { name: 'Add endpoint' });
  const fresh = page.locator('section.webhook-card', { hasText: 'New webhook' });
  await add.or(fresh).first().waitFor();
  if (await add.count()) await add.click();
  return fresh;
}
