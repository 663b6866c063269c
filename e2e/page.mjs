// The chat's page in headless Chromium (Debian's, driven by playwright-core), for the browser
// tests: each person is a browser context of one shared browser, so a test costs no launch.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

/** No browser is downloaded: the tests drive the system's Chromium, installed by `cargo xtask setup --tests`. */
export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

let people = 0;

/**
 * A page at `base + path` in its own browser context (a separate person), before any name is
 * picked. `problems` collects console errors, uncaught exceptions and whatever the page's
 * Content-Security-Policy blocked, which tests expect empty.
 */
export async function openPage(browser, { base, path = '/', init, initArg, ...options }) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 }, ...options });
  await context.addInitScript(reportPolicyViolations);
  if (init) await context.addInitScript(init, initArg);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const response = await page.goto(base + path);
  return { page, context, problems, response, close: () => context.close() };
}

/** In the page: every violation of its Content-Security-Policy becomes a console error. */
function reportPolicyViolations() {
  document.addEventListener('securitypolicyviolation', (event) => {
    console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
  });
}

/** Like `openPage`, then picks a name in the first-visit dialog and waits until connected. */
export async function openChat(browser, { name = `Person ${(people += 1)}`, ...options }) {
  const person = await openPage(browser, options);
  await person.page.getByRole('textbox', { name: 'Your name' }).fill(name);
  await person.page.getByRole('button', { name: 'Start chatting' }).click();
  await connected(person.page);
  return person;
}

/**
 * The socket is open and the server's welcome has arrived: the page says who we are (found by
 * its words, which the layout's class names do not change).
 */
export async function connected(page) {
  await page.locator('[role=status]', { hasText: 'Connected' }).waitFor();
  await page.locator('span', { hasText: /^You are \S/ }).locator('strong').first().waitFor({ state: 'attached' });
}

export async function send(page, text) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until `text` is shown, then checks it is shown exactly once. */
export async function expectOnce(page, text) {
  const messages = page.locator('.message .text', { hasText: text });
  await messages.first().waitFor();
  assert.equal(await messages.count(), 1, `"${text}" shown once`);
}

/** Creates room `name` with the sidebar's field and waits until it is the open room. */
export async function createRoom(page, name) {
  await page.getByRole('textbox', { name: 'New room name' }).fill(name);
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.locator('h1', { hasText: `# ${name}` }).waitFor();
}

/** Joins room `name` from the room directory and waits until it is the open room. */
export async function joinRoom(page, name) {
  await page.getByRole('button', { name: 'Browse rooms' }).click();
  await page.getByRole('button', { name: `Join #${name}` }).click();
  await page.locator('h1', { hasText: `# ${name}` }).waitFor();
}

/**
 * Fills in the open log-in or sign-up dialog (`action` is its submit button, "Log in" or
 * "Create account") and waits until the page is connected as that account.
 */
export async function submitAccount(page, action, username, password) {
  const dialog = page.getByRole('dialog', { name: action });
  await dialog.getByRole('textbox', { name: 'Username' }).fill(username);
  await dialog.getByLabel(/^Password/).fill(password);
  await dialog.getByRole('button', { name: action }).click();
  await dialog.waitFor({ state: 'detached' });
  await connected(page);
  // Logging in ignores case; the username is shown as it was registered. (On a phone the
  // sidebar is a closed drawer: there, not visible.)
  await page.locator('.me-name .handle', { hasText: new RegExp(`^@${username}$`, 'i') })
    .waitFor({ state: 'attached' });
}

/** Opens the account dialog from the sidebar. */
export async function openAccount(page) {
  await page.getByRole('button', { name: 'Your account' }).click();
  const dialog = page.getByRole('dialog', { name: 'Your account' });
  await dialog.waitFor();
  return dialog;
}
