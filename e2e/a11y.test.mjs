// Accessibility of the UI, measured by axe-core (injected into the page) in each state a person
// meets: the first-visit name picker, a conversation, the room directory, an error, signing up
// (with a refusal at its field), the account dialog, and a phone, each in the dark and the light
// colour scheme. A `serious` or `critical` violation fails the
// test; `moderate` and `minor` ones are printed, one summary line per state.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import {
  connected, createRoom, expectOnce, launchChromium, openAccount, openChat, openPage, send,
  submitAccount,
} from './page.mjs';
import { startServer } from './server.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core');
const FAILING = new Set(['serious', 'critical']);
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let server;
let browser;
/** Someone already chatting, so the others' pages show messages from two people and a room to join. */
let bob;
/** Enough history that the conversation scrolls in every state, as it does after a while. */
const HISTORY = 30;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  bob = await openChat(browser, { base: server.url, name: 'Bob Axe' });
  await createRoom(bob.page, 'lounge');
  await bob.page.locator('.room-link', { hasText: 'general' }).click();
  await bob.page.locator('h1', { hasText: '# general' }).waitFor();
  for (let n = 1; n <= HISTORY; n += 1) await send(bob.page, `Earlier message ${n} of ${HISTORY}`);
  await expectOnce(bob.page, `Earlier message ${HISTORY} of ${HISTORY}`);
});

after(async () => {
  await browser?.close();
  assert.equal(await server?.stop(), 0);
});

/**
 * Runs axe on the page as it is now. Fails listing every serious or critical violation with the
 * elements it found; reports the others as one diagnostic line, so they stay visible.
 */
async function audit(t, page) {
  // Evaluated, not added as a <script>: the page's Content-Security-Policy blocks inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await readFile(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const { violations } = await window.axe.run(document, { resultTypes: ['violations'] });
    return violations.map(({ id, impact, help, nodes }) => ({
      id,
      impact,
      help,
      targets: nodes.map((node) => node.target.join(' ')),
      // axe's reasons for each element, such as the attribute not allowed or the contrast ratio.
      why: nodes.map((node) => (node.failureSummary ?? '').split('\n').slice(1).map((line) => line.trim()).join('; ')),
    }));
  });
  const failing = violations.filter((v) => FAILING.has(v.impact));
  const other = violations.filter((v) => !FAILING.has(v.impact));
  t.diagnostic(`${t.name}: ${failing.length} serious/critical; moderate/minor: ${
    other.map((v) => `${v.id} (${v.impact}, ${v.targets.length}: ${v.targets.join(', ')})`).join('; ') || 'none'}`);
  assert.equal(failing.length, 0, `axe violations in "${t.name}":\n${failing
    .map((v) => `  ${v.id} (${v.impact}): ${v.help}\n${v.targets.map((target, i) => `    ${target}: ${v.why[i]}`).join('\n')}`)
    .join('\n')}`);
}

for (const colorScheme of ['dark', 'light']) {
  test(`${colorScheme}: name picker, conversation, room directory, an error`, async (t) => {
    const alice = await openPage(browser, { base: server.url, colorScheme });
    const { page } = alice;
    await page.getByRole('dialog', { name: 'Welcome' }).waitFor();
    await t.test(`${colorScheme}, desktop: name picker (first visit)`, (t) => audit(t, page));

    await page.getByRole('textbox', { name: 'Your name' }).fill(`Alice ${colorScheme}`);
    await page.getByRole('button', { name: 'Start chatting' }).click();
    await connected(page);
    await send(bob.page, `Hello in ${colorScheme}, with a link: https://example.com and **bold** text`);
    await send(page, `Hi Bob, \`code\` and _emphasis_ (Alice in ${colorScheme})`);
    // Bob's answer comes after Alice's own message was stored and acknowledged to her.
    await expectOnce(bob.page, `(Alice in ${colorScheme})`);
    await send(bob.page, `A last word for ${colorScheme}`);
    await expectOnce(page, `A last word for ${colorScheme}`);
    await t.test(`${colorScheme}, desktop: conversation of two people`, (t) => audit(t, page));

    const box = page.getByRole('textbox', { name: 'Message' });
    await box.press('ArrowUp');
    await page.getByText('Editing your message').waitFor();
    await t.test(`${colorScheme}, desktop: editing a message`, (t) => audit(t, page));
    await box.press('Escape');

    // Bob's last word gets a reaction and an answer; the picker stays open to be audited.
    const last = page.locator('li.message', { hasText: `A last word for ${colorScheme}` }).first();
    await last.getByRole('button', { name: 'React' }).click();
    await page.getByRole('group', { name: 'Add a reaction' }).getByRole('button', { name: '🎉' }).click();
    await last.getByRole('button', { name: /^🎉 1/ }).waitFor();
    await last.getByRole('button', { name: 'Reply', exact: true }).click();
    await send(page, `Agreed (${colorScheme})`);
    await page.locator('li.message', { hasText: `Agreed (${colorScheme})` }).locator('.quote').waitFor();
    await last.getByRole('button', { name: 'Reply', exact: true }).click();
    await last.getByRole('button', { name: 'React' }).click();
    await t.test(`${colorScheme}, desktop: reactions, a reply, answering and the emoji picker`, (t) => audit(t, page));
    await page.keyboard.press('Escape');
    await box.press('Escape');
    await page.locator('li.message.mine').last().getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete this message?' });
    await confirm.waitFor();
    await t.test(`${colorScheme}, desktop: confirming a deletion`, (t) => audit(t, page));
    await confirm.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'Browse rooms' }).click();
    await page.getByRole('button', { name: 'Join #lounge' }).waitFor();
    await t.test(`${colorScheme}, desktop: room directory open`, (t) => audit(t, page));
    await page.getByRole('button', { name: 'Hide rooms' }).click();
    await page.locator('.directory').waitFor({ state: 'detached' });

    await page.getByRole('textbox', { name: 'New room name' }).fill('Bad Name!');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('alert').filter({ hasText: /room name needs/i }).waitFor();
    await t.test(`${colorScheme}, desktop: room name refused`, (t) => audit(t, page));

    await page.getByRole('textbox', { name: 'New room name' }).fill(`hideout-${colorScheme}`);
    await page.getByRole('checkbox', { name: /Private/ }).check();
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('button', { name: 'Invite' }).click();
    const invite = page.getByRole('dialog', { name: 'Invite someone' });
    await invite.getByRole('textbox', { name: 'Their username' }).fill('nobody-at-all');
    await invite.getByRole('button', { name: 'Add to room' }).click();
    await invite.locator('#invitee-problem:not(:empty)').waitFor();
    await t.test(`${colorScheme}, desktop: invite dialog with a refused username`, (t) => audit(t, page));
    await invite.getByRole('button', { name: 'Done' }).click();

    await page.getByRole('button', { name: 'Search' }).click();
    const search = page.getByRole('dialog', { name: 'Search messages' });
    await search.getByRole('searchbox', { name: 'Words to find' }).fill('last word');
    await search.getByRole('searchbox', { name: 'Words to find' }).press('Enter');
    await search.locator('mark').first().waitFor();
    await t.test(`${colorScheme}, desktop: search results`, (t) => audit(t, page));
    await search.getByRole('button', { name: 'Close' }).click();

    // A picture sent, and a file on its way with the message: the card, the thumbnail, the note.
    await page.locator('#attach-input').setInputFiles({
      name: 'dot.png',
      mimeType: 'image/png',
      buffer: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAAK0lEQVR4nO3NMQ0AAAgDsMmZfxXIQgYcTfo3056IWCwWi8VisVgsFov/xguJMCDM2TzTeAAAAABJRU5ErkJggg==', 'base64'),
    });
    await page.getByRole('status').filter({ hasText: 'goes with your message' }).waitFor();
    await page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await page.getByRole('img', { name: 'dot.png' }).waitFor();
    await page.locator('#attach-input').setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('plan') });
    await page.getByRole('status').filter({ hasText: 'plan.txt' }).filter({ hasText: 'goes with your message' }).waitFor();
    await send(page, 'the plan');
    await page.locator('.attachment.card', { hasText: 'plan.txt' }).waitFor();
    await page.locator('#attach-input').setInputFiles({ name: 'next.txt', mimeType: 'text/plain', buffer: Buffer.from('next') });
    await page.getByRole('status').filter({ hasText: 'next.txt' }).filter({ hasText: 'goes with your message' }).waitFor();
    await t.test(`${colorScheme}, desktop: a picture, a file card and a file to send`, (t) => audit(t, page));

    // Bob writes to Alice directly, from her name on her message: her page is told, lists it
    // apart and opens it.
    const hers = bob.page.locator('li.message', { hasText: `Agreed (${colorScheme})` }).first();
    await hers.getByRole('button', { name: `Alice ${colorScheme}` }).click();
    await bob.page.locator('h1', { hasText: `Alice ${colorScheme}` }).waitFor();
    await send(bob.page, `Just between us, ${colorScheme}`);
    const notice = page.getByRole('status').filter({ hasText: 'Bob Axe opened a conversation with you.' });
    await notice.getByRole('button', { name: 'Open Bob Axe' }).click();
    await expectOnce(page, `Just between us, ${colorScheme}`);
    await t.test(`${colorScheme}, desktop: a direct conversation`, (t) => audit(t, page));
    await bob.page.locator('.room-link', { hasText: 'general' }).click();
    await bob.page.locator('h1', { hasText: '# general' }).waitFor();

    assert.deepEqual(alice.problems, []);
    await alice.close();
  });

  test(`${colorScheme}: a phone (390 x 844), name picker and conversation`, async (t) => {
    const alice = await openPage(browser, { base: server.url, colorScheme, ...PHONE });
    const { page } = alice;
    await page.getByRole('dialog', { name: 'Welcome' }).waitFor();
    await t.test(`${colorScheme}, phone: name picker (first visit)`, (t) => audit(t, page));

    await page.getByRole('textbox', { name: 'Your name' }).fill(`Phone ${colorScheme}`);
    await page.getByRole('button', { name: 'Start chatting' }).click();
    await connected(page);
    await send(page, `From the phone in ${colorScheme}`);
    // Bob's answer comes after the phone's own message was stored and acknowledged to it.
    await expectOnce(bob.page, `From the phone in ${colorScheme}`);
    await send(bob.page, `To the phone in ${colorScheme}`);
    await expectOnce(page, `To the phone in ${colorScheme}`);
    await t.test(`${colorScheme}, phone: conversation of two people`, (t) => audit(t, page));

    assert.deepEqual(alice.problems, []);
    await alice.close();
  });

  test(`${colorScheme}: signing up, a refusal at its field, the account dialog (desktop and phone)`, async (t) => {
    for (const [device, options] of [['desktop', {}], ['phone', PHONE]]) {
      const person = await openPage(browser, { base: server.url, colorScheme, ...options });
      const { page } = person;
      await page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
      const form = page.getByRole('dialog', { name: 'Create account' });
      await form.getByRole('textbox', { name: 'Username' }).fill('no');
      await form.getByLabel(/^Password/).fill('a11y password');
      await form.getByRole('button', { name: 'Create account' }).click();
      await form.locator('#username-problem:not(:empty)').waitFor();
      await t.test(`${colorScheme}, ${device}: sign-up form with a refused username`, (t) => audit(t, page));

      await submitAccount(page, 'Create account', `${colorScheme}-${device}`, 'a11y password');
      if (device === 'phone') await page.getByRole('button', { name: /Rooms/ }).click();
      const account = await openAccount(page);
      await account.locator('.sessions li').first().waitFor();
      // The first account is the admin's: its dialog lists the people too.
      const admin = (await account.getByRole('heading', { name: 'People' }).count()) > 0;
      if (admin) await account.locator('.people li').first().waitFor();
      await t.test(`${colorScheme}, ${device}: account dialog`, (t) => audit(t, page));
      if (admin && device === 'desktop') {
        await page.keyboard.press('Escape');
        await createRoom(page, `attic-${colorScheme}`);
        await page.getByRole('button', { name: 'Archive' }).click();
        await page.getByRole('status').filter({ hasText: 'This room is archived' }).waitFor();
        await t.test(`${colorScheme}, desktop: an archived room, as its admin`, (t) => audit(t, page));
      }
      assert.deepEqual(person.problems, []);
      await person.close();
    }
  });
}
