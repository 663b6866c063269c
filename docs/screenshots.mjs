// Takes the README's screenshots: a conversation in #design on a desktop and on a phone, in the
// light and the dark theme. Usage: CHAT_BIN=target/release/chat node docs/screenshots.mjs
import { io } from 'socket.io-client';
import { createRoom, expectOnce, launchChromium, openChat, send } from '../e2e/page.mjs';
import { startServer } from '../e2e/server.mjs';

const server = await startServer();
const browser = await launchChromium();
try {
  // Ada and Grace talk in #design; a third person, a Socket.io client, chimes in.
  const grace = await openChat(browser, { base: server.url, name: 'Grace Hopper' });
  await createRoom(grace.page, 'design');
  const linus = io(server.url, { transports: ['websocket'], auth: { name: 'Linus' } });
  await new Promise((resolve) => linus.once('welcome', resolve));
  await linus.emitWithAck('joinRoom', { room: 'design' });
  const said = async (who, text) => {
    if (who === linus) {
      await linus.emitWithAck('chatMessage', { room: 'design', text, clientId: `l-${text.length}` });
    } else {
      await send(who.page, text);
      // Its first line as shown: markup markers are not text.
      await expectOnce(who.page, text.split('\n')[0].replace(/^> |[*_`]/g, ''));
    }
  };
  await said(grace, 'Morning! The new onboarding mockups are up: https://example.com/mockups/v3');
  await said(grace, 'Two questions for **everyone** before Friday:');
  await said(grace, '> Do we keep the _three-step_ signup?\n> Does the welcome tour need sound?');
  await said(linus, 'Three steps is fine if the second one can be skipped.');
  await said(linus, 'The tour config lives in `tour.toml`:\n```\n[tour]\nsound = false\n```');
  const shots = [
    ['screenshot.png', { viewport: { width: 1280, height: 800 }, colorScheme: 'light' }],
    ['screenshot-dark.png', { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' }],
    ['screenshot-phone.png', { viewport: { width: 390, height: 844 }, colorScheme: 'light', isMobile: true, hasTouch: true }],
    ['screenshot-phone-dark.png', { viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true }],
  ];
  for (const [file, options] of shots) {
    const ada = await openChat(browser, { base: server.url, name: 'Ada Lovelace', path: '/r/design', ...options });
    await expectOnce(ada.page, 'sound = false');
    if (file === 'screenshot.png') {
      await said(ada, 'Love it. @Grace Hopper, can we try it on a phone today?');
      await said(grace, 'Yes! @Ada Lovelace I will send you a link.');
    }
    // The pointer is still where "Start chatting" was: it would hover over a message.
    await ada.page.mouse.move(0, 0);
    await ada.page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'));
    await ada.page.screenshot({ path: `docs/${file}` });
    await ada.close();
  }
  linus.close();
} finally {
  await browser.close();
  await server.stop();
}
