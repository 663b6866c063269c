import { launchChromium, openChat, send, expectOnce, connected } from './page.mjs';
import { startServer } from './server.mjs';
const server = await startServer();
const browser = await launchChromium();
const o = (opts) => openChat(browser, { base: server.url, ...opts });
try {
  const ada = await o({ name: 'Dora' });
  const bob = await o({ name: 'Dmitri' });
  await send(bob.page, 'ask me anything, Dora');
  const his = ada.page.locator('.message', { hasText: 'ask me anything, Dora' });
  await his.getByRole('button', { name: 'Dmitri' }).click();
  await ada.page.locator('h1', { hasText: /^Dmitri$/ }).waitFor();
  await send(ada.page, 'a quiet word, just for you');
  const notice = bob.page.getByRole('status').filter({ hasText: 'Dora opened a conversation with you.' });
  await notice.getByRole('button', { name: 'Open Dora' }).click();
  await expectOnce(bob.page, 'a quiet word, just for you');
  console.log('url', bob.page.url());
  await bob.page.reload();
  await new Promise((r) => setTimeout(r, 3000));
  console.log(bob.problems);
  console.log(await bob.page.evaluate(() => document.body.innerText.slice(0, 600)));
  await bob.page.screenshot({ path: '/work/main/target/dbg/b.png' });
} finally {
  await browser.close();
  await server.stop();
}
