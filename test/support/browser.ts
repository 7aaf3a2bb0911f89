import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * The browser the tests drive: Debian's `chromium` package (`.ci/run` installs it where it is
 * missing), started headless by playwright-core through its executable: no browser download.
 * CHROMIUM_PATH points elsewhere if needed.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true });
}

/** One Content-Security-Policy violation a page reported. */
export interface CspViolation {
  documentURI: string;
  violatedDirective: string;
  blockedURI: string;
}

/** A page of our app, watched for CSP violations and console errors. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** CSP violations on our origin so far (the test fails on any: see expectNoCspViolations). */
  cspViolations: CspViolation[];
  close(): Promise<void>;
}

/**
 * A fresh browser context (its own cookies) with a page on `baseUrl`. Every
 * `securitypolicyviolation` event of a document on `baseUrl`'s origin is collected through a
 * binding (no script is added to the page, so its CSP stays exactly as served).
 */
export async function openPage(browser: Browser, baseUrl: string): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL: baseUrl, locale: 'en-US', timezoneId: 'America/Chicago' });
  const cspViolations: CspViolation[] = [];
  const origin = new URL(baseUrl).origin;
  await context.exposeBinding('__reportCspViolation', (_source, v: CspViolation) => {
    if (v.documentURI.startsWith(origin)) {
      cspViolations.push(v);
    }
  });
  // Page-side code as text: the tests compile without the DOM's types.
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => { window.__reportCspViolation({ documentURI: e.documentURI, violatedDirective: e.violatedDirective, blockedURI: e.blockedURI }); });",
  );
  const page = await context.newPage();
  page.on('console', (msg) => {
    // Chromium also logs each violation; a page whose listener never ran still fails this way.
    if (msg.type() === 'error' && /Content Security Policy/.test(msg.text()) && page.url().startsWith(origin)) {
      cspViolations.push({ documentURI: page.url(), violatedDirective: 'console', blockedURI: msg.text().slice(0, 300) });
    }
  });
  return { page, context, cspViolations, close: () => context.close() };
}

/** Fails with the violations listed when a page logged any. */
export function expectNoCspViolations(watched: WatchedPage): void {
  if (watched.cspViolations.length > 0) {
    throw new Error(`Content-Security-Policy violations:\n${watched.cspViolations.map((v) => `  ${v.documentURI}: ${v.violatedDirective} blocked ${v.blockedURI}`).join('\n')}`);
  }
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** One axe-core finding, short. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core on the page as it is now, for WCAG 2.0/2.1 A and AA. axe is evaluated
 * through the DevTools protocol (not a script tag), so the page's CSP is not loosened for it.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(
    "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.map(String).join(' ')) })))",
  )) as AxeViolation[];
  return violations;
}

/** Fails with what axe found, page by page. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page);
  if (violations.length > 0) {
    throw new Error(`axe-core (WCAG 2.1 A/AA) on ${what} (${page.url()}):\n${violations.map((v) => `  ${v.id} [${v.impact ?? '?'}] ${v.help}: ${v.targets.slice(0, 3).join(', ')}`).join('\n')}`);
  }
}
