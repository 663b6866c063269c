// The UI in headless Chromium (Debian's, driven by playwright-core): two people chatting.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  connected, createRoom, expectOnce, joinRoom, launchChromium, openAccount, openChat as openPerson,
  openPage, send, submitAccount,
} from './page.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = process.env.CHAT_ARTIFACTS ?? 'target/e2e';
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  assert.equal(await server?.stop(), 0);
});

/** A new person at `options.path` of the test server (or of `options.base`), named and connected. */
const openChat = (options = {}) => openPerson(browser, { base: server.url, ...options });

test('a message typed in one page appears once in both, marked as mine only in mine', async () => {
  const alice = await openChat();
  const bob = await openChat();

  await send(alice.page, 'Hello Bob!');
  await expectOnce(alice.page, 'Hello Bob!');
  await expectOnce(bob.page, 'Hello Bob!');
  assert.equal(await alice.page.locator('.message.mine').count(), 1);
  assert.equal(await bob.page.locator('.message.mine').count(), 0);
  assert.equal(await alice.page.getByRole('textbox', { name: 'Message' }).inputValue(), '', 'composer cleared');

  await send(bob.page, 'Hi Alice, all good here.\nSecond line.');
  await expectOnce(alice.page, 'Second line.');
  await send(alice.page, 'Great — shipping the Rust rewrite today.');
  await expectOnce(bob.page, 'shipping the Rust rewrite');
  await alice.page.screenshot({ path: join(ARTIFACTS, 'chat.png') });

  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
  await alice.close();
  await bob.close();
});

test('the page runs under its Content-Security-Policy, and a page of another origin cannot connect', async () => {
  const alice = await openChat();
  const policy = alice.response.headers()['content-security-policy'];
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
  assert.doesNotMatch(policy, /unsafe-inline/);
  await send(alice.page, 'under the policy');
  await expectOnce(alice.page, 'under the policy');
  // The avatar's colour is set through the CSSOM, which the policy allows.
  const colour = await alice.page.locator('.message .avatar').first()
    .evaluate((avatar) => getComputedStyle(avatar).backgroundColor);
  assert.notEqual(colour, 'rgba(0, 0, 0, 0)');
  assert.deepEqual(alice.problems, [], 'no console error, no policy violation');

  // Another site's page loads the public client script and tries to open a socket to the chat
  // in its visitor's name, over WebSocket (which the browser's CORS rules would not stop).
  const evil = createServer((request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end(`<!DOCTYPE html><script src="${server.url}/socket.io/socket.io.js"></script>
      <script>
        window.outcome = new Promise((resolve) => {
          const socket = io(${JSON.stringify(server.url)}, { transports: ['websocket'], reconnection: false });
          socket.on('connect', () => resolve('connected'));
          socket.on('connect_error', () => resolve('refused'));
        });
      </script>`);
  });
  evil.listen(0, '127.0.0.1');
  await once(evil, 'listening');
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${evil.address().port}/`);
  assert.equal(await page.evaluate(() => window.outcome), 'refused');
  await context.close();
  evil.close();
  await alice.close();
});

test('HTML in a message is shown as text and runs nothing', async () => {
  const alice = await openChat();
  const bob = await openChat();
  const payload = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';

  await send(alice.page, payload);
  for (const { page } of [alice, bob]) {
    await expectOnce(page, payload);
    assert.equal(await page.locator('.messages img, .messages b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  }
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('on a first visit the name picker is a modal dialog and what is typed first is the name', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  await page.goto(server.url);
  const dialog = page.getByRole('dialog', { name: 'Welcome' });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute('aria-modal'), 'true');
  // Typed straight away, without clicking anywhere.
  await page.getByRole('textbox', { name: 'Your name' }).waitFor();
  await page.keyboard.type('Zed Typed First');
  await page.keyboard.press('Enter');
  await connected(page);
  assert.equal(await page.locator('.me-name strong').textContent(), 'Zed Typed First');
  assert.equal(await page.locator('.message .text', { hasText: 'Zed Typed First' }).count(), 0);
  await context.close();
});

test('a blank message is not sent and an over-long one is refused in the page', async () => {
  const alice = await openChat();
  const box = alice.page.getByRole('textbox', { name: 'Message' });
  const sendButton = alice.page.getByRole('button', { name: 'Send' });
  // Enter on a blank message does nothing, and says nothing.
  await send(alice.page, '    ');
  assert.equal(await sendButton.isDisabled(), true);
  assert.equal(await alice.page.locator('.composer .error:not(:empty)').count(), 0);
  // Over the limit: said as soon as it is typed, Send is off; shortened, both go away.
  await box.fill('x'.repeat(2001));
  await alice.page.locator('.composer .error', { hasText: 'limit' }).waitFor();
  assert.equal(await sendButton.isDisabled(), true);
  await box.press('Enter');
  await box.press('Backspace');
  await alice.page.locator('.composer .error:not(:empty)').waitFor({ state: 'detached' });
  assert.equal(await sendButton.isEnabled(), true);
  assert.equal(await alice.page.locator('.message.pending, .message .text:has-text("xxxx")').count(), 0);
  await alice.close();
});

test('the view follows new messages but leaves a reader who scrolled up alone', async () => {
  const alice = await openChat();
  const bob = await openChat({ viewport: { width: 390, height: 700 } });
  // More than the burst the rate limit allows: the outbox waits and sends the rest.
  for (let n = 0; n < 26; n += 1) {
    await send(alice.page, `filler ${n}`);
  }
  await expectOnce(bob.page, 'filler 25');
  const atBottom = () => bob.page.locator('.conversation').evaluate(
    (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48,
  );
  await bob.page.waitForFunction(() => {
    const el = document.querySelector('.conversation');
    return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  });

  // The reader scrolls up; new messages must not move the view.
  await bob.page.locator('.conversation').evaluate((el) => { el.scrollTop = 0; });
  await bob.page.locator('.conversation').dispatchEvent('scroll');
  await send(alice.page, 'while you were reading');
  await expectOnce(bob.page, 'while you were reading');
  await bob.page.locator('.jump', { hasText: '1 new message' }).waitFor();
  assert.equal(await bob.page.locator('.conversation').evaluate((el) => el.scrollTop), 0);
  assert.equal(await atBottom(), false);

  await bob.page.locator('.jump').click();
  await bob.page.waitForFunction(() => {
    const el = document.querySelector('.conversation');
    return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  });
  // Phone-sized: nothing overflows sideways.
  assert.ok(await bob.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('rooms: create, join from the directory, unread counts, links and the back button', async () => {
  const alice = await openChat({ name: 'Alice' });
  const bob = await openChat({ name: 'Bob' });

  await createRoom(alice.page, 'design');
  assert.match(alice.page.url(), /\/r\/design$/);
  // The new room is on screen: the next thing to do is write in it.
  await alice.page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Message');

  // The directory opens and closes with its button, and closes with Escape.
  await bob.page.getByRole('button', { name: 'Browse rooms' }).click();
  await bob.page.getByRole('button', { name: 'Hide rooms', expanded: true }).click();
  await bob.page.locator('.directory').waitFor({ state: 'detached' });
  await bob.page.getByRole('button', { name: 'Browse rooms' }).click();
  await bob.page.getByRole('button', { name: 'Join #design' }).focus();
  await bob.page.keyboard.press('Escape');
  await bob.page.locator('.directory').waitFor({ state: 'detached' });
  await bob.page.getByRole('button', { name: 'Browse rooms', expanded: false }).click();
  await bob.page.getByRole('button', { name: 'Join #design' }).click();
  await bob.page.locator('h1', { hasText: '# design' }).waitFor();
  await alice.page.locator('.online', { hasText: '2 online' }).waitFor();
  await bob.page.locator('.room-link', { hasText: 'general' }).click();
  await bob.page.locator('h1', { hasText: '# general' }).waitFor();

  await send(alice.page, 'Mockups are up');
  await send(alice.page, 'Feedback welcome');
  await bob.page.locator('.room-link', { hasText: 'design' }).locator('.badge', { hasText: '2' }).waitFor();
  await bob.page.locator('.room-link .badge', { hasText: '2 unread' }).waitFor();

  await bob.page.locator('.room-link', { hasText: 'design' }).click();
  await expectOnce(bob.page, 'Feedback welcome');
  await bob.page.locator('.room-link .badge').waitFor({ state: 'detached' });
  await bob.page.goBack();
  await bob.page.locator('h1', { hasText: '# general' }).waitFor();
  await alice.page.screenshot({ path: join(ARTIFACTS, 'rooms.png') });
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('a reload keeps the name, the session and the history', async () => {
  const alice = await openChat({ name: 'Reloading Alice' });
  await send(alice.page, 'Still here after a reload?');
  await expectOnce(alice.page, 'Still here after a reload?');
  await alice.page.reload();
  await connected(alice.page);
  assert.equal(await alice.page.getByRole('textbox', { name: 'Your name' }).count(), 0);
  await alice.page.locator('.me-name strong', { hasText: 'Reloading Alice' }).waitFor({ state: 'attached' });
  await expectOnce(alice.page, 'Still here after a reload?');
  assert.equal(await alice.page.locator('.message.mine', { hasText: 'Still here after a reload?' }).count(), 1);
  await alice.close();
});

test('offline: missed messages arrive once and in order, and what was typed offline is sent', async () => {
  const alice = await openChat({ name: 'Online Alice' });
  const bob = await openChat({ name: 'Offline Bob' });
  await send(alice.page, 'before the outage');
  await expectOnce(bob.page, 'before the outage');

  await bob.context.setOffline(true);
  await bob.page.locator('[role=status]', { hasText: 'Reconnecting' }).waitFor();
  for (const n of [1, 2, 3]) {
    await send(alice.page, `during the outage ${n}`);
  }
  await send(bob.page, 'typed while offline');
  await bob.page.locator('.message.pending', { hasText: 'typed while offline' }).waitFor();

  await bob.context.setOffline(false);
  await connected(bob.page);
  for (const n of [1, 2, 3]) {
    await expectOnce(bob.page, `during the outage ${n}`);
  }
  await expectOnce(alice.page, 'typed while offline');
  await bob.page.locator('.message.pending').waitFor({ state: 'detached' });
  await expectOnce(bob.page, 'typed while offline');

  const texts = await bob.page.locator('.message .text').allTextContents();
  const order = ['before the outage', 'during the outage 1', 'during the outage 2', 'during the outage 3', 'typed while offline'];
  assert.deepEqual(texts.filter((t) => order.includes(t)), order);
  await alice.close();
  await bob.close();
});

test('a server restart loses nothing and the page reconnects by itself', async () => {
  const alice = await openChat({ name: 'Restart Alice' });
  await send(alice.page, 'said before the restart');
  await expectOnce(alice.page, 'said before the restart');

  await server.restart();
  await alice.page.locator('[role=status]', { hasText: 'Connected' }).waitFor();
  await send(alice.page, 'said after the restart');
  await expectOnce(alice.page, 'said after the restart');

  const fresh = await openChat({ name: 'Newcomer' });
  await expectOnce(fresh.page, 'said before the restart');
  await expectOnce(fresh.page, 'said after the restart');
  assert.deepEqual([...alice.problems, ...fresh.problems].filter((p) => !p.includes('WebSocket')), []);
  await alice.close();
  await fresh.close();
});

test('"is typing" goes away as soon as that person\'s message arrives', async () => {
  const alice = await openChat({ name: 'Sending Alice' });
  const bob = await openChat({ name: 'Reading Bob' });
  await alice.page.getByRole('textbox', { name: 'Message' }).pressSequentially('done typ');
  await bob.page.locator('.typing', { hasText: 'Sending Alice is typing…' }).waitFor();
  await send(alice.page, 'done typing');
  await expectOnce(bob.page, 'done typing');
  // Within the same update as the message, long before the indicator would expire (4 s).
  assert.equal(await bob.page.locator('.typing', { hasText: 'is typing' }).count(), 0);
  await alice.close();
  await bob.close();
});

test('"is typing" shows while someone types and goes away by itself', async () => {
  const alice = await openChat({ name: 'Typing Alice' });
  const bob = await openChat({ name: 'Watching Bob' });
  await alice.page.getByRole('textbox', { name: 'Message' }).pressSequentially('hel');
  await bob.page.locator('.typing', { hasText: 'Typing Alice is typing…' }).waitFor();
  // Nobody types any more: the indicator expires (after about four seconds).
  await bob.page.locator('.typing', { hasText: 'is typing' }).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await alice.page.locator('.typing', { hasText: 'is typing' }).count(), 0);
  await alice.close();
  await bob.close();
});

test('scrolling up loads older pages without moving what the reader sees', async () => {
  const writer = await openChat({ name: 'Historian' });
  await writer.page.getByRole('textbox', { name: 'New room name' }).fill('archive');
  await writer.page.getByRole('textbox', { name: 'New room name' }).press('Enter');
  await writer.page.locator('h1', { hasText: '# archive' }).waitFor();
  // Fill the room through the protocol (quicker than typing, same server path), pausing
  // whenever the rate limit says so.
  await writer.page.evaluate(async () => {
    const socket = io({ transports: ['websocket'], auth: { token: localStorage.getItem('chat.token') } });
    for (let n = 1; n <= 70; n += 1) {
      const message = { room: 'archive', text: `archived ${n}`, clientId: `archive-${n}` };
      while ((await socket.timeout(5000).emitWithAck('chatMessage', message)).status !== 'ok') {
        await new Promise((resolve) => { setTimeout(resolve, 200); });
      }
    }
    socket.close();
  });

  // The newest page is messages 21 to 70.
  const reader = await openChat({ name: 'Reader', path: '/r/archive' });
  await expectOnce(reader.page, 'archived 70');
  await expectOnce(reader.page, 'archived 21');
  assert.equal(await reader.page.locator('.message .text', { hasText: /^archived 20$/ }).count(), 0);
  const conversation = reader.page.locator('.conversation');
  // Where 'archived 21', the oldest loaded, is: in the list's content, and on screen.
  const place = () => conversation.evaluate((el) => {
    const oldest = [...el.querySelectorAll('.message')]
      .find((m) => m.querySelector('.text').textContent === 'archived 21');
    const onScreen = oldest.getBoundingClientRect().top - el.getBoundingClientRect().top;
    return { onScreen, inContent: onScreen + el.scrollTop };
  });
  // Scrolled to the very top, it shows where it sits in the content; the older page then comes
  // in above it, and it must stay where the reader saw it.
  const { inContent } = await place();
  await conversation.evaluate((el) => { el.scrollTop = 0; });
  await expectOnce(reader.page, 'archived 20');
  await reader.page.waitForFunction(() => !document.querySelector('.loading'));
  const { onScreen } = await place();
  assert.ok(Math.abs(onScreen - inContent) < 20, `no jump: ${inContent} -> ${onScreen}`);
  await conversation.evaluate((el) => { el.scrollTop = 0; });
  await reader.page.locator('.start', { hasText: 'start of the room' }).waitFor();
  assert.equal(await reader.page.locator('.message .text', { hasText: /^archived 1$/ }).count(), 1);
  assert.equal(await reader.page.locator('.message').count(), 70);
  assert.deepEqual([...writer.problems, ...reader.problems], []);
  await writer.close();
  await reader.close();
});

/** The contrast ratio (WCAG) of `selector`'s text against the first background behind it. */
function contrast(page, selector) {
  return page.evaluate((selector) => {
    const rgb = (css) => css.match(/[\d.]+/g).slice(0, 4).map(Number);
    const luminance = ([r, g, b]) => {
      const linear = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const element = document.querySelector(selector);
    let behind = element;
    while (behind && rgb(getComputedStyle(behind).backgroundColor)[3] === 0) behind = behind.parentElement;
    const [a, b] = [getComputedStyle(element).color, getComputedStyle(behind).backgroundColor].map((c) => luminance(rgb(c)));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }, selector);
}

test('accent colours keep AA contrast in both themes', async () => {
  for (const colorScheme of ['light', 'dark']) {
    const person = await openChat({ colorScheme });
    await person.page.getByRole('textbox', { name: 'Message' }).fill('enable Send');
    for (const selector of ['.compose-row button[type=submit]', '.sidebar .room-link.active', '.sidebar button.link']) {
      const ratio = await contrast(person.page, selector);
      assert.ok(ratio >= 4.5, `${colorScheme}: ${selector} has contrast ${ratio.toFixed(2)}:1`);
    }
    await person.close();
  }
});

test('dark mode follows the system setting', async () => {
  const dark = await openChat({ colorScheme: 'dark' });
  const light = await openChat({ colorScheme: 'light' });
  const background = (page) => page.evaluate(() => getComputedStyle(document.querySelector('.app')).backgroundColor);
  assert.notEqual(await background(dark.page), await background(light.page));
  await send(dark.page, 'Looks good in the dark too');
  await expectOnce(dark.page, 'Looks good in the dark too');
  await dark.page.screenshot({ path: join(ARTIFACTS, 'chat-dark.png') });
  await dark.close();
  await light.close();
});

test('without a connection a request is answered with a refusal, not left waiting', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  // No Socket.io client script: the page cannot connect at all.
  await page.route('**/socket.io/socket.io.js', (route) => route.abort());
  await page.goto(server.url);
  await page.getByRole('textbox', { name: 'Your name' }).fill('Stranded');
  await page.getByRole('button', { name: 'Start chatting' }).click();
  await page.locator('[role=status]', { hasText: 'Offline' }).waitFor();
  // Creating a room is a request: its answer, here a refusal made in the page, must come.
  await page.getByRole('textbox', { name: 'New room name' }).fill('nowhere');
  await page.getByRole('textbox', { name: 'New room name' }).press('Enter');
  await page.locator('#room-problem', { hasText: 'Not connected' }).waitFor();
  await context.close();
});

/**
 * Runs in the page before its scripts: wraps WebSocket so the test can see the `sync` requests
 * the page sends, drop the broadcast of one message (a gap), and hold `sync` acknowledgements
 * until it answers them itself.
 */
function wireTap() {
  const wire = { syncs: [], drop: null, hold: false, held: [] };
  window.__wire = wire;
  wire.refuse = (code) => {
    wire.hold = false;
    for (const { id, deliver } of wire.held.splice(0)) {
      const refusal = { status: 'error', error: { code, message: 'refused by the test' } };
      deliver(new MessageEvent('message', { data: `43${id}${JSON.stringify([refusal])}` }));
    }
  };
  window.WebSocket = class extends window.WebSocket {
    send(data) {
      const sync = typeof data === 'string' && data.match(/^42(\d+)\["sync"/);
      if (sync) wire.syncs.push({ id: sync[1], at: performance.now() });
      super.send(data);
    }

    get onmessage() {
      return super.onmessage;
    }

    set onmessage(handler) {
      const deliver = (event) => handler.call(this, event);
      super.onmessage = (event) => {
        const { data } = event;
        if (typeof data === 'string') {
          if (wire.drop && data.startsWith('42["chatMessage"') && data.includes(`"text":"${wire.drop}"`)) return;
          const ack = data.match(/^43(\d+)/);
          if (ack && wire.hold && wire.syncs.some((sync) => sync.id === ack[1])) {
            wire.held.push({ id: ack[1], deliver });
            return;
          }
        }
        deliver(event);
      };
    }
  };
}

test('a gap costs one sync however many messages follow it, and a busy server is asked again after a pause', async () => {
  const reader = await openChat({ name: 'Gap reader', init: wireTap });
  const writer = io(server.url, { transports: ['websocket'], auth: { name: 'Gap writer' }, forceNew: true });
  try {
    await once(writer, 'welcome');
    const post = async (text) => {
      const ack = await writer.timeout(10_000).emitWithAck('chatMessage', { text, clientId: text });
      assert.equal(ack.status, 'ok', JSON.stringify(ack));
    };
    await post('gap 0');
    await expectOnce(reader.page, 'gap 0');
    await reader.page.evaluate(() => {
      window.__wire.syncs.length = 0;
      window.__wire.drop = 'gap lost';
      window.__wire.hold = true;
    });
    await post('gap lost');
    const after = Array.from({ length: 10 }, (_, n) => `gap after ${n + 1}`);
    for (const text of after) await post(text);
    // Every one of these arrived beyond the gap; the page shows them while it waits.
    await expectOnce(reader.page, 'gap after 10');
    assert.equal(await reader.page.evaluate(() => window.__wire.syncs.length), 1, 'one sync for the gap');

    // The server is busy: the page asks again, but only after a pause.
    const refused = await reader.page.evaluate(() => {
      window.__wire.refuse('overloaded');
      return performance.now();
    });
    await reader.page.waitForFunction(() => window.__wire.syncs.length === 2);
    const again = await reader.page.evaluate(() => window.__wire.syncs[1].at);
    assert.ok(again - refused >= 1000, `asked again ${Math.round(again - refused)} ms after the refusal`);

    await expectOnce(reader.page, 'gap lost');
    const texts = await reader.page.locator('.message .text').allTextContents();
    const order = ['gap 0', 'gap lost', ...after];
    assert.deepEqual(texts.filter((t) => order.includes(t)), order);
    assert.equal(await reader.page.evaluate(() => window.__wire.syncs.length), 2, 'nothing more to sync');
    assert.deepEqual(reader.problems, []);
  } finally {
    writer.close();
    await reader.close();
  }
});

/**
 * Starts watching the page's frames and long tasks. The returned function stops and gives the
 * longest time between two frames, and the long tasks' count and time, in ms.
 */
async function watchFrames(page) {
  await page.evaluate(() => {
    const watch = { worstFrame: 0, longTasks: 0, longTaskTime: 0, end: false };
    window.__frames = watch;
    let last = performance.now();
    const frame = (now) => {
      watch.worstFrame = Math.max(watch.worstFrame, now - last);
      last = now;
      if (!watch.end) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    watch.observer = new PerformanceObserver((list) => {
      for (const task of list.getEntries()) {
        watch.longTasks += 1;
        watch.longTaskTime += task.duration;
      }
    });
    watch.observer.observe({ type: 'longtask' });
  });
  return () => page.evaluate(() => {
    const watch = window.__frames;
    watch.end = true;
    watch.observer.disconnect();
    return {
      worstFrame: Math.round(watch.worstFrame),
      longTasks: watch.longTasks,
      longTaskTime: Math.round(watch.longTaskTime),
    };
  });
}

/** How many messages the flood test posts, and how many the page may hold and show at once. */
const FLOOD = 10_000;
const WINDOW = 500;
/** How many of the newest messages the list draws while the reader follows them. */
const FOLLOWING_ROWS = 60;

test('10,000 messages into the open room: the page keeps up, smooth and bounded', async () => {
  // Its own server, with the rate limit out of the way: one client posts everything.
  const flood = await startServer({ args: ['--rate-per-second', '100000', '--rate-burst', '100000'] });
  const reader = await openChat({ name: 'Flood reader', base: flood.url });
  const writer = io(flood.url, { transports: ['websocket'], auth: { name: 'Flooder' }, forceNew: true });
  try {
    await once(writer, 'welcome');
    const conversation = reader.page.locator('.conversation');
    // The page's main-thread time (Chrome's own count), frames and long tasks, from now until
    // the last message is on screen.
    const cdp = await reader.context.newCDPSession(reader.page);
    await cdp.send('Performance.enable');
    const busySeconds = async () => (await cdp.send('Performance.getMetrics')).metrics
      .find((metric) => metric.name === 'TaskDuration').value;
    const busyBefore = await busySeconds();
    const stopWatching = await watchFrames(reader.page);

    // A hundred requests in flight at a time: far below the server's bound on work in flight.
    const started = Date.now();
    let next = 1;
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next <= FLOOD) {
        const n = next;
        next += 1;
        const ack = await writer.timeout(60_000)
          .emitWithAck('chatMessage', { text: `flood ${n}`, clientId: `flood-${n}` });
        assert.equal(ack.status, 'ok', JSON.stringify(ack));
      }
    }));
    const posted = Date.now();
    const caughtUp = await reader.page.locator(`li.message[data-seq="${FLOOD}"]`)
      .waitFor({ timeout: 60_000 }).then(() => true, () => false);
    const shown = Date.now();
    const watch = await stopWatching();
    const busyMs = ((await busySeconds()) - busyBefore) * 1000;
    const seqs = await reader.page.locator('li.message').evaluateAll(
      (items) => items.map((item) => Number(item.dataset.seq)),
    );
    const figures = {
      caughtUp,
      newestShown: Math.max(0, ...seqs),
      listed: seqs.length,
      postedMs: posted - started,
      lagAfterLastPostMs: shown - posted,
      busyMsPerMessage: busyMs / Math.max(1, ...seqs),
      longTaskMs: watch.longTaskTime,
      longTasks: watch.longTasks,
      worstFrameMs: watch.worstFrame,
    };
    console.log('flood figures', JSON.stringify(figures));

    // The newest messages, gap-free, and no more of them than the window; once the flood is
    // over, only as many as a reader who follows them needs.
    assert.ok(caughtUp, `message ${FLOOD} shown within a minute of the last post`);
    assert.ok(seqs.length <= WINDOW, `the list holds ${seqs.length} messages, not the whole session`);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => FLOOD - seqs.length + 1 + i));
    await reader.page.waitForFunction((rows) => document.querySelectorAll('li.message').length === rows, FOLLOWING_ROWS);
    // Measured on 2 cores since the list draws at most 20 new rows a frame while following:
    // 0.24 to 0.52 s behind, worst frame 117 ms, no long task (before: 3.6 to 4.8 s and long
    // tasks of 50 to 180 ms, drawing every message). The frames between are Chromium handling
    // thousands of socket messages a second, a few milliseconds each. The bounds leave room for
    // a busier CI machine, and still fail if the page falls behind for good.
    assert.ok(figures.lagAfterLastPostMs < 4_000, `the page keeps up: ${figures.lagAfterLastPostMs} ms behind`);
    assert.ok(figures.worstFrameMs < 400, `no frame stalls: worst ${figures.worstFrameMs} ms`);
    assert.ok(figures.busyMsPerMessage < 1, `main thread busy ${figures.busyMsPerMessage} ms per message`);

    // What the page holds is drawn as the reader scrolls up, and what it dropped comes back
    // from history.
    const wanted = reader.page.locator(`li.message[data-seq="${FLOOD - WINDOW}"]`);
    while (await wanted.count() === 0) {
      const top = await reader.page.locator('li.message').first().getAttribute('data-seq');
      await conversation.evaluate((el) => { el.scrollTop = 0; });
      await reader.page.waitForFunction((was) => document.querySelector('li.message').dataset.seq !== was, top);
    }
    assert.deepEqual(reader.problems, []);
  } finally {
    writer.close();
    await reader.close();
    assert.equal(await flood.stop(), 0);
  }
});

// Issue 9: the page as people on a phone, by keyboard and with a screen reader use it.

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

test('on a phone every function is reachable: rooms in a drawer, create, browse, join, leave, rename', async () => {
  const alice = await openChat({ name: 'Phone Alice', colorScheme: 'dark', ...PHONE });
  const bob = await openChat({ name: 'Desk Bob' });
  const { page } = alice;
  const drawer = page.getByRole('navigation', { name: 'Rooms' });
  const menu = page.locator('#drawer-button');
  // Closed, the drawer is out of sight and out of the tab order.
  assert.equal(await drawer.isVisible(), false);
  await menu.click();
  await createRoom(page, 'phones');
  await createRoom(bob.page, 'desks');

  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await joinRoom(page, 'desks');
  await drawer.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Leave' }).click();
  await page.locator('h1', { hasText: '# general' }).waitFor();

  // Escape closes the drawer and gives focus back to its button.
  await menu.click();
  await page.getByRole('button', { name: 'Change name' }).waitFor();
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.activeElement?.id === 'drawer-button');
  // Escape at once, before the drawer had a frame to take focus: focus stays on the button.
  await menu.click();
  await page.keyboard.press('Escape');
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'drawer-button');
  await menu.click();
  await page.getByRole('button', { name: 'Change name' }).click();
  const dialog = page.getByRole('dialog', { name: 'Change your name' });
  await dialog.waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Renamed on the phone');
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'detached' });
  await page.locator('.me-name strong', { hasText: 'Renamed on the phone' }).waitFor({ state: 'attached' });

  // Touch targets (the drawer is still open): every visible control is at least 44 px high
  // (rows off screen are not laid out, so their controls have no size yet).
  const small = await page.evaluate(() => [...document.querySelectorAll('button, a, input, textarea')]
    .filter((el) => el.checkVisibility({ contentVisibilityAuto: true }) && !el.classList.contains('skip'))
    .map((el) => [el.textContent.trim() || el.getAttribute('aria-label'), el.getBoundingClientRect().height])
    .filter(([, height]) => height < 44));
  assert.deepEqual(small, [], 'controls under 44 px');
  await page.screenshot({ path: join(ARTIFACTS, 'phone-drawer-dark.png') });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('the sender always sees their own new message, and the pill counts only others', async () => {
  const alice = await openChat({ name: 'Scrolling Alice', viewport: { width: 390, height: 600 } });
  const bob = await openChat({ name: 'Chatty Bob' });
  for (let n = 0; n < 20; n += 1) await send(bob.page, `line ${n}`);
  await expectOnce(alice.page, 'line 19');
  const conversation = alice.page.locator('.conversation');
  await conversation.evaluate((el) => { el.scrollTop = 0; });
  await conversation.dispatchEvent('scroll');
  await send(bob.page, 'from Bob while Alice reads');
  await alice.page.locator('.jump', { hasText: '1 new message' }).waitFor();
  // The pill sits below the list, covering none of it.
  const [pill, list] = await Promise.all([alice.page.locator('.jump').boundingBox(), conversation.boundingBox()]);
  assert.ok(pill.y >= list.y + list.height - 1, 'the pill is outside the list');

  await send(alice.page, 'my own words');
  await alice.page.waitForFunction(() => {
    const mine = [...document.querySelectorAll('.message.mine')].at(-1);
    const list = document.querySelector('.conversation').getBoundingClientRect();
    const box = mine?.getBoundingClientRect();
    return box && box.bottom <= list.bottom + 1 && box.top >= list.top;
  });
  assert.equal(await alice.page.locator('.jump').count(), 0, 'sending took the view to the newest');
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('links open in a new tab, light formatting shows, and markup never becomes HTML', async () => {
  const alice = await openChat({ name: 'Formatting Alice' });
  await send(alice.page, 'See https://example.com/docs?q=1. It is **bold**, _italic_ and `code <b>`.');
  const link = alice.page.locator('.message .text a');
  await link.waitFor();
  assert.equal(await link.getAttribute('href'), 'https://example.com/docs?q=1');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await alice.page.locator('.message .text strong').textContent(), 'bold');
  assert.equal(await alice.page.locator('.message .text em').textContent(), 'italic');
  assert.equal(await alice.page.locator('.message .text code').textContent(), 'code <b>');
  await send(alice.page, '```\nfn main() {}\n```\n> quoted <img src=x onerror=alert(1)>');
  await alice.page.locator('.message .text pre code', { hasText: 'fn main() {}' }).waitFor();
  await alice.page.locator('.message .text blockquote', { hasText: 'quoted <img' }).waitFor();
  assert.equal(await alice.page.locator('.message img, .message b').count(), 0);
  await send(alice.page, 'javascript:alert(1) stays text');
  await expectOnce(alice.page, 'javascript:alert(1) stays text');
  assert.equal(await alice.page.locator('.message a').count(), 1);
  // The test has no network: the link's page is answered here.
  await alice.context.route('https://example.com/**', (route) => route.fulfill({ body: 'docs' }));
  const [popup] = await Promise.all([alice.context.waitForEvent('page'), link.click()]);
  await popup.waitForLoadState();
  assert.equal(popup.url(), 'https://example.com/docs?q=1');
  await popup.close();
  assert.deepEqual(alice.problems, []);
  await alice.close();
});

/** Waits for the tab's title to read `title`, saying what it read instead if it never does. */
async function expectTitle(page, title) {
  await page.waitForFunction((expected) => document.title === expected, title, { timeout: 10_000 })
    .catch(async () => assert.equal(await page.title(), title));
}

test('the title counts unread messages, mentions are highlighted and counted, notifications come when hidden', async () => {
  // Notifications are granted and recorded instead of shown.
  const init = () => {
    window.__notes = [];
    window.Notification = class {
      static permission = 'granted';
      static requestPermission() { return Promise.resolve('granted'); }
      constructor(title, options) { window.__notes.push({ title, body: options?.body }); }
    };
  };
  const alice = await openChat({ name: 'Ada', init });
  const bob = await openChat({ name: 'Bob' });
  await expectTitle(alice.page, '#general - Chat');
  // A room's "Notify all" shows only once notifications are on.
  const notifyAll = alice.page.getByRole('button', { name: 'Notify all' });
  assert.equal(await notifyAll.count(), 0);
  await alice.page.getByRole('button', { name: 'Notify me of mentions' }).click();
  await alice.page.getByRole('button', { name: 'Notify me of mentions', pressed: true }).waitFor();
  await notifyAll.waitFor();

  await createRoom(bob.page, 'studio');
  await joinRoom(alice.page, 'studio');
  await alice.page.locator('.room-link', { hasText: 'general' }).click();
  await alice.page.locator('h1', { hasText: '# general' }).waitFor();

  // Bob writes in #studio while Alice reads #general; then Alice leaves the tab.
  await send(bob.page, 'first');
  await send(bob.page, 'hey @Ada, look');
  await expectTitle(alice.page, '(2) #general - Chat');
  await alice.page.locator('.room-link', { hasText: 'studio' }).locator('.badge.mention', { hasText: '@1 mention' }).waitFor();
  await alice.page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
  await send(bob.page, 'another ping for @Ada today');
  await send(bob.page, 'no mention here');
  await expectTitle(alice.page, '(4) #general - Chat');
  const notes = await alice.page.evaluate(() => window.__notes);
  assert.deepEqual(notes, [{ title: 'Bob in #studio', body: 'another ping for @Ada today' }]);

  await alice.page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
  await alice.page.locator('.room-link', { hasText: 'studio' }).click();
  await alice.page.locator('.message.mentioned', { hasText: 'hey @Ada, look' }).waitFor();
  await alice.page.locator('.mention.me', { hasText: '@Ada' }).first().waitFor();
  // Opened with unread messages: a line marks where they begin.
  const line = alice.page.locator('.unread-line');
  await line.waitFor();
  assert.equal(await alice.page.locator('.unread-line + .message .text').textContent(), 'first');
  await expectTitle(alice.page, '#studio - Chat');

  // "Notify all" in #studio: every message there is notified while the tab is hidden.
  await notifyAll.click();
  await alice.page.getByRole('button', { name: 'Notify all', pressed: true }).waitFor();
  await alice.page.evaluate(() => {
    window.__notes.length = 0;
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
  await send(bob.page, 'nothing for anyone in particular');
  await alice.page.waitForFunction(() => window.__notes.length === 1);
  assert.deepEqual(await alice.page.evaluate(() => window.__notes),
    [{ title: 'Bob in #studio', body: 'nothing for anyone in particular' }]);
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('screen readers hear each new message once, not the list, and never their own', async () => {
  const alice = await openChat({ name: 'Listening Alice' });
  const bob = await openChat({ name: 'Talking Bob' });
  const log = alice.page.getByRole('log');
  assert.equal(await alice.page.locator('[aria-live]:not([role=log]):not(.typing)').count(), 0, 'the list itself is not live');
  await send(bob.page, 'one announcement');
  await log.locator('p', { hasText: 'Talking Bob: one announcement' }).waitFor({ state: 'attached' });
  await send(alice.page, 'said by me');
  await expectOnce(alice.page, 'said by me');
  await send(bob.page, 'second announcement');
  await log.locator('p', { hasText: 'second announcement' }).waitFor({ state: 'attached' });
  assert.deepEqual(await log.locator('p').allTextContents(),
    ['Talking Bob: one announcement', 'Talking Bob: second announcement']);
  // Another room on screen: nothing of its history is announced.
  await createRoom(alice.page, 'quiet');
  await alice.page.locator('.room-link', { hasText: 'general' }).click();
  await expectOnce(alice.page, 'second announcement');
  assert.equal(await log.locator('p').count(), 0);
  await alice.close();
  await bob.close();
});

test('messages group by author, days are marked, times carry the full date', async () => {
  const alice = await openChat({ name: 'Grouping Alice' });
  const bob = await openChat({ name: 'Grouping Bob' });
  await send(bob.page, 'group one');
  await send(bob.page, 'group two');
  // Alice answers what she read (otherwise her reply may be stored first).
  await expectOnce(alice.page, 'group two');
  await send(alice.page, 'reply');
  await alice.page.locator('.message:not(.pending) .text', { hasText: 'reply' }).waitFor();
  const heads = await alice.page.locator('.message').evaluateAll((items) => items
    .filter((item) => /group one|group two|reply/.test(item.textContent))
    .map((item) => item.classList.contains('head')));
  assert.deepEqual(heads, [true, false, true]);
  assert.equal(await alice.page.locator('.message.head', { hasText: 'group one' }).locator('.avatar').textContent(), 'GB');
  await alice.page.locator('.day', { hasText: 'Today' }).waitFor();
  const time = alice.page.locator('.message', { hasText: 'group two' }).locator('time');
  assert.match(await time.getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
  await alice.page.locator('.message', { hasText: 'group two' }).hover();
  await time.hover();
  await alice.page.waitForFunction(() => [...document.querySelectorAll('.message time')].some((t) => t.title.length > 8));
  assert.match(await time.getAttribute('title'), /\d/, 'the full date and time on hover');
  await alice.close();
  await bob.close();
});

test('errors show where the problem is; a link to a missing room offers to create it', async () => {
  const alice = await openChat({ name: 'Erring Alice', path: '/r/no-such-room' });
  const { page } = alice;
  await page.locator('.notice', { hasText: 'There is no room #no-such-room.' }).waitFor();
  await page.getByRole('button', { name: 'Create #no-such-room' }).click();
  await page.locator('h1', { hasText: '# no-such-room' }).waitFor();
  await page.locator('.notice').waitFor({ state: 'detached' });

  await page.getByRole('textbox', { name: 'New room name' }).fill('Bad Name!');
  await page.getByRole('button', { name: 'Create room' }).click();
  const problem = page.locator('#room-problem');
  await problem.filter({ hasText: 'A room name needs' }).waitFor();
  assert.equal(await page.getByRole('textbox', { name: 'New room name' }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('.composer .error:not(:empty)').count(), 0, 'not above the composer');
  await page.getByRole('textbox', { name: 'New room name' }).fill('no-such-room');
  await page.getByRole('button', { name: 'Create room' }).click();
  await problem.filter({ hasText: 'already exists' }).waitFor();
  await alice.close();

  const bad = await openChat({ name: 'Bad Link', path: '/r/Bad%20Name!' });
  await bad.page.locator('.notice', { hasText: '“Bad Name!” cannot be a room' }).waitFor();
  await bad.page.getByRole('button', { name: 'Dismiss' }).click();
  await bad.page.locator('.notice').waitFor({ state: 'detached' });
  await bad.close();
});

test('keyboard: skip link, landmarks, room shortcuts, who is online, @ completion', async () => {
  const alice = await openChat({ name: 'Keys Alice' });
  const bob = await openChat({ name: 'Keys Bob' });
  const { page } = alice;
  for (const [role, name] of [['navigation', 'Rooms'], ['main', 'Conversation']]) {
    assert.equal(await page.getByRole(role, { name }).count(), 1, `${role} landmark`);
  }
  // The skip link is the first thing Tab reaches, and it leads to the message box.
  const first = await page.evaluate(() => document.querySelector('a[href], button, input, textarea, [tabindex]').textContent);
  assert.equal(first, 'Skip to the message box');
  await page.getByRole('link', { name: 'Skip to the message box' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'composer-box');

  await createRoom(page, 'keys');
  await page.keyboard.press('Alt+ArrowUp');
  await page.locator('h1', { hasText: '# general' }).waitFor();
  await page.keyboard.press('Alt+ArrowDown');
  await page.locator('h1', { hasText: '# keys' }).waitFor();
  await page.keyboard.press('Alt+ArrowDown');
  await page.locator('h1', { hasText: '# general' }).waitFor();

  const online = page.getByRole('button', { name: /\d+ online/ });
  await online.focus();
  await page.keyboard.press('Enter');
  const members = page.getByRole('list', { name: 'Online in this room' });
  await members.getByText('Keys Bob').waitFor();
  // Beside each name what no one can borrow: the account's @username, or "guest".
  await members.getByRole('listitem').filter({ hasText: 'Keys Alice guest (you)' }).waitFor();

  const box = page.getByRole('textbox', { name: 'Message' });
  await box.focus();
  await page.keyboard.type('hi @keys b');
  const option = page.getByRole('option', { name: 'Keys Bob' });
  await option.waitFor();
  assert.equal(await box.getAttribute('aria-activedescendant'), await option.getAttribute('id'));
  await page.keyboard.press('Enter');
  assert.equal(await box.inputValue(), 'hi @Keys Bob ');
  await page.keyboard.type('welcome');
  await page.keyboard.press('Enter');
  await bob.page.locator('.message.mentioned', { hasText: 'hi @Keys Bob welcome' }).waitFor();
  // The whole name of two words is the mention, for the one named and for the others.
  assert.equal(await bob.page.locator('.mention.me').textContent(), '@Keys Bob');
  // In the line of text, not a block of its own.
  assert.equal(await bob.page.locator('.mention.me').evaluate((el) => getComputedStyle(el).display), 'inline');
  await alice.page.locator('.mention', { hasText: '@Keys Bob' }).waitFor();
  assert.equal(await alice.page.locator('.mention').textContent(), '@Keys Bob');
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.close();
  await bob.close();
});

test('while offline the header says since when and offers to try now', async () => {
  const alice = await openChat({ name: 'Offline Alice' });
  await alice.context.setOffline(true);
  const status = alice.page.locator('[role=status]', { hasText: /Reconnecting… since \d\d:\d\d/ });
  await status.waitFor();
  await alice.page.getByRole('button', { name: /online: unknown/i }).waitFor();
  await alice.context.setOffline(false);
  await alice.page.getByRole('button', { name: 'Try now' }).click();
  await connected(alice.page);
  await alice.page.getByRole('button', { name: 'Try now' }).waitFor({ state: 'detached' });
  await alice.close();
});

test('switching between rooms of thousands of messages, and scrolling up: each frame stays short', async () => {
  const busy = await startServer({ args: ['--rate-per-second', '100000', '--rate-burst', '100000'] });
  const writer = io(busy.url, { transports: ['websocket'], auth: { name: 'Switch writer' }, forceNew: true });
  const welcomed = once(writer, 'welcome');
  const reader = await openChat({ name: 'Switching reader', base: busy.url });
  try {
    await welcomed;
    assert.equal((await writer.emitWithAck('createRoom', { room: 'busy' })).status, 'ok');
    await joinRoom(reader.page, 'busy');
    for (const room of ['general', 'busy']) {
      let next = 1;
      await Promise.all(Array.from({ length: 50 }, async () => {
        while (next <= 2_000) {
          const n = next;
          next += 1;
          const ack = await writer.timeout(60_000)
            .emitWithAck('chatMessage', { room, text: `${room} ${n}`, clientId: `${room}-${n}` });
          assert.equal(ack.status, 'ok', JSON.stringify(ack));
        }
      }));
    }
    await expectOnce(reader.page, 'busy 2000');
    // The open room's list; one that went is hidden while its rows are taken down.
    const open = reader.page.locator('ol.messages:not([hidden])');
    const drawn = () => open.locator('li.message').count();
    const frames = [];
    for (const room of ['general', 'busy', 'general', 'busy']) {
      const stop = await watchFrames(reader.page);
      await reader.page.locator('.room-link', { hasText: room }).click();
      await open.locator('.message .text', { hasText: `${room} 2000` }).waitFor();
      // The room's own messages, not the other's under the same sequence numbers.
      assert.equal(await open.locator('.message .text', { hasText: room === 'general' ? 'busy' : 'general' }).count(), 0);
      // The room that went is taken down.
      await reader.page.waitForFunction(() => document.querySelectorAll('ol.messages').length === 1);
      assert.equal(await drawn(), FOLLOWING_ROWS);
      frames.push((await stop()).worstFrame);
    }
    // Scrolling up draws the older messages held, a frame's worth at a time, keeping the place.
    const conversation = reader.page.locator('.conversation');
    const stop = await watchFrames(reader.page);
    for (let shown = FOLLOWING_ROWS; shown < 400;) {
      const top = await open.locator('li.message').first().getAttribute('data-seq');
      await conversation.evaluate((el) => { el.scrollTop = 0; });
      await reader.page.waitForFunction((was) => document.querySelector('ol.messages li.message').dataset.seq !== was, top);
      const now = await drawn();
      assert.ok(now > shown, `${now} rows after ${shown}`);
      shown = now;
      // The row that was at the top is still on screen, just below what came in.
      const place = await conversation.evaluate((el, seq) => el.querySelector(`li.message[data-seq="${seq}"]`)
        .getBoundingClientRect().top - el.getBoundingClientRect().top, top);
      assert.ok(place > 0 && place < 200, `the reader's place moved to ${place} px`);
    }
    frames.push((await stop()).worstFrame);
    console.log('room switch and scroll-up worst frames (ms)', JSON.stringify(frames));
    // One frame is 16.7 ms; headless Chromium on 2 busy cores misses one or two now and then
    // (measured 17 to 50 ms here, a fresh clone's first switch included). The bound fails if
    // switching or scrolling up draws whole rooms again (50 to 120 ms then), or rows as heavy as
    // they were before off-screen rows skipped layout (67 ms).
    assert.ok(Math.max(...frames) < 60, `worst frame while switching: ${Math.max(...frames)} ms`);
    assert.deepEqual(reader.problems, []);
  } finally {
    writer.close();
    await reader.close();
    assert.equal(await busy.stop(), 0);
  }
});

test('accounts: the first is the admin, a guest keeps their messages, two devices share one account, an ended session says so', async () => {
  const fresh = await startServer();
  const open = (options = {}) => openPage(browser, { base: fresh.url, ...options });
  const password = 'correct horse battery';
  try {
    // A guest chats, then creates the server's first account from the sidebar.
    const guest = await openPerson(browser, { base: fresh.url, name: 'Gail' });
    await send(guest.page, 'said as a guest');
    await expectOnce(guest.page, 'said as a guest');
    await guest.page.getByRole('button', { name: 'Create account' }).click();
    const signUp = guest.page.getByRole('dialog', { name: 'Create account' });
    await signUp.getByText('yours is the first, and its admin').waitFor();
    // Refusals show at their field.
    await signUp.getByRole('textbox', { name: 'Username' }).fill('g');
    await signUp.getByLabel(/^Password/).fill(password);
    await signUp.getByRole('button', { name: 'Create account' }).click();
    await signUp.locator('#username-problem', { hasText: /username/i }).waitFor();
    assert.equal(await signUp.getByRole('textbox', { name: 'Username' }).getAttribute('aria-invalid'), 'true');
    await submitAccount(guest.page, 'Create account', 'gail', password);
    assert.equal(await guest.page.locator('.me-name strong').textContent(), 'Gail', 'the same person');
    await expectOnce(guest.page, 'said as a guest');
    assert.equal(await guest.page.locator('.message.mine', { hasText: 'said as a guest' }).count(), 1);
    const account = await openAccount(guest.page);
    await account.locator('.role', { hasText: 'Admin' }).waitFor();
    await account.getByRole('heading', { name: 'Registration' }).waitFor();
    await guest.page.keyboard.press('Escape');
    await account.waitFor({ state: 'detached' });
    await guest.page.waitForFunction(() => document.activeElement?.id === 'account-button');

    // A second device: logs in from the first-visit dialog, and finds the rooms and history.
    await createRoom(guest.page, 'plans');
    await send(guest.page, 'the plan, for every device');
    await expectOnce(guest.page, 'the plan, for every device');
    const phone = await open({ viewport: { width: 390, height: 800 } });
    await phone.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Log in' }).click();
    // A wrong password (or username: the same answer) is refused at the password field. (Not
    // gail's: her attempts are throttled, five at once.)
    const logIn = phone.page.getByRole('dialog', { name: 'Log in' });
    await logIn.getByRole('textbox', { name: 'Username' }).fill('nobody');
    await logIn.getByLabel('Password').fill('not the password');
    await logIn.getByRole('button', { name: 'Log in' }).click();
    await logIn.locator('#password-problem', { hasText: 'Wrong username or password' }).waitFor();
    await submitAccount(phone.page, 'Log in', 'GAIL', password);
    await phone.page.goto(`${fresh.url}/r/plans`);
    await connected(phone.page);
    await expectOnce(phone.page, 'the plan, for every device');
    await phone.page.locator('.message.mine', { hasText: 'the plan, for every device' }).waitFor();

    // The first device ends the phone's session: the phone says so, and does not come back as
    // someone new.
    const sessions = (await openAccount(guest.page)).locator('.sessions li');
    await sessions.filter({ hasText: 'This device' }).waitFor();
    assert.ok(await sessions.count() >= 2, 'this device and the phone');
    assert.equal(await sessions.filter({ hasText: 'This device' }).getByRole('button').count(), 0);
    // Every other session, the phone's among them.
    while (await sessions.getByRole('button', { name: 'Log out' }).count() > 0) {
      const count = await sessions.count();
      await sessions.getByRole('button', { name: 'Log out' }).first().click();
      await guest.page.waitForFunction((n) => document.querySelectorAll('.sessions li').length < n, count);
    }
    const ended = phone.page.getByRole('dialog', { name: 'Log in' });
    await ended.getByText('You were logged out').waitFor();
    await phone.page.locator('[role=status]', { hasText: 'Logged out' }).waitFor();
    assert.equal(await phone.page.evaluate(() => localStorage.getItem('chat.token')), null);
    assert.equal(await phone.page.locator('.message').count(), 0, 'nothing of the account is left on screen');

    // A new password: the current one is asked; the other sessions end.
    await submitAccount(phone.page, 'Log in', 'gail', password);
    const change = guest.page.getByRole('dialog', { name: 'Your account' }).getByRole('region', { name: 'Change password' });
    await change.getByLabel('Current password').fill('wrong password');
    await change.getByLabel(/^New password/).fill('a new password');
    await change.getByRole('button', { name: 'Change password' }).click();
    await change.locator('#current-password-problem', { hasText: 'Wrong' }).waitFor();
    await change.getByLabel('Current password').fill(password);
    await change.getByRole('button', { name: 'Change password' }).click();
    await change.getByRole('status').filter({ hasText: 'Password changed' }).waitFor();
    await phone.page.getByRole('dialog', { name: 'Log in' }).getByText('You were logged out').waitFor();
    await submitAccount(phone.page, 'Log in', 'gail', 'a new password');

    // Logging out brings the first visit's choices back.
    await guest.page.getByRole('dialog', { name: 'Your account' }).getByRole('button', { name: 'Log out', exact: true }).click();
    await guest.page.getByRole('dialog', { name: 'Welcome' }).waitFor();
    assert.equal(await guest.page.evaluate(() => localStorage.getItem('chat.token')), null);
    // Chromium logs every refused request (the wrong passwords, the ended session's check); the
    // page itself logs nothing.
    const refused = /status of 401 \(Unauthorized\)$/;
    assert.deepEqual([...guest.problems, ...phone.problems].filter((p) => !refused.test(p)), []);
    await guest.close();
    await phone.close();
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
});

test('accounts: registration settings are the admin\'s; a join link lets one sign up by invitation', async () => {
  const fresh = await startServer();
  const open = (options = {}) => openPage(browser, { base: fresh.url, ...options });
  try {
    const admin = await open({ permissions: ['clipboard-read', 'clipboard-write'] });
    await admin.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
    await submitAccount(admin.page, 'Create account', 'root', 'admin password');
    const member = await open();
    await member.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
    await submitAccount(member.page, 'Create account', 'max', 'member password');
    const mine = await openAccount(member.page);
    await mine.locator('.role', { hasText: 'Member' }).waitFor();
    assert.equal(await mine.getByRole('heading', { name: 'Registration' }).count(), 0);

    const settings = (await openAccount(admin.page)).getByRole('region', { name: 'Registration' });
    await settings.getByRole('radio', { name: 'Only people with the join link' }).check();
    await settings.getByRole('button', { name: 'Copy' }).click();
    await settings.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
    const link = await admin.page.evaluate(() => navigator.clipboard.readText());
    assert.match(link, /\/\?invite=[0-9a-f]+$/);
    assert.equal(await settings.getByRole('textbox', { name: 'Join link' }).inputValue(), link);

    // Without the link: refused, said at the form. With it: the code is filled in.
    const stranger = await open();
    await stranger.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
    const refused = stranger.page.getByRole('dialog', { name: 'Create account' });
    await refused.getByRole('textbox', { name: 'Username' }).fill('stranger');
    await refused.getByLabel(/^Password/).fill('stranger password');
    await refused.getByRole('textbox', { name: /Invite code/ }).fill('wrong');
    await refused.getByRole('button', { name: 'Create account' }).click();
    await refused.locator('#invite-problem', { hasText: 'invitation' }).waitFor();
    const invited = await open({ path: link.slice(fresh.url.length) });
    const form = invited.page.getByRole('dialog', { name: 'Create account' });
    assert.equal(await form.getByRole('textbox', { name: /Invite code/ }).inputValue(), link.split('=')[1]);
    assert.equal(new URL(invited.page.url()).search, '', 'the code is taken out of the address');
    await submitAccount(invited.page, 'Create account', 'ivy', 'invited password');

    // A new link: the old one stops working.
    await settings.getByRole('button', { name: 'New link' }).click();
    await admin.page.waitForFunction((old) => document.getElementById('join-link').value !== old, link);
    assert.deepEqual([...admin.problems, ...member.problems, ...invited.problems], []);
    for (const person of [admin, member, stranger, invited]) await person.close();
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
});

test('accounts: an admin promotes, demotes, bans and unbans from the account dialog', async () => {
  const fresh = await startServer();
  const open = () => openPage(browser, { base: fresh.url });
  const signUp = async (username) => {
    const person = await open();
    await person.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
    await submitAccount(person.page, 'Create account', username, `${username} password`);
    return person;
  };
  try {
    const admin = await signUp('root');
    const max = await signUp('max');
    const people = (await openAccount(admin.page)).getByRole('region', { name: 'People' });
    await people.getByRole('searchbox', { name: 'Find by name or username' }).fill('ma');
    const row = people.getByRole('listitem').filter({ hasText: '@max' });
    await row.waitFor();
    assert.equal(await people.getByRole('listitem').count(), 1, 'the search narrows the list');
    // Buttons say whom they act on (aria-describedby: the row's name).
    const promote = row.getByRole('button', { name: 'Make admin' });
    assert.match(await promote.getAttribute('aria-describedby'), /^person-/);
    await promote.click();
    await row.filter({ hasText: 'Admin' }).getByRole('button', { name: 'Remove admin' }).waitFor();
    assert.equal(await row.getByRole('button', { name: 'Ban' }).count(), 0, 'an admin is demoted before a ban');
    await row.getByRole('button', { name: 'Remove admin' }).click();
    await row.getByRole('button', { name: 'Ban' }).click();
    await max.page.getByText('An admin banned you from this chat.').waitFor();
    await row.filter({ hasText: 'Banned' }).getByRole('button', { name: 'Unban' }).click();
    await row.getByRole('button', { name: 'Ban' }).waitFor();
    // Nobody acts on themselves.
    await people.getByRole('searchbox').fill('root');
    const me = people.getByRole('listitem').filter({ hasText: '(you)' });
    await me.waitFor();
    assert.equal(await me.getByRole('button').count(), 0);
    assert.deepEqual(admin.problems, []);
    for (const person of [admin, max]) await person.close();
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
});

test('edits and deletions: Up edits one\'s last message, deleting asks first, an admin removes anyone\'s, and the other page follows', async () => {
  const fresh = await startServer();
  try {
    const admin = await openPage(browser, { base: fresh.url });
    await admin.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
    await submitAccount(admin.page, 'Create account', 'root', 'root password');
    const gina = await openChat({ base: fresh.url, name: 'Gina' });
    const box = gina.page.getByRole('textbox', { name: 'Message' });
    await send(gina.page, 'helo world');
    await expectOnce(admin.page, 'helo world');

    // Up in the empty box brings the last message in; Escape leaves it as it was.
    await box.press('ArrowUp');
    assert.equal(await box.inputValue(), 'helo world');
    await gina.page.getByText('Editing your message').waitFor();
    await box.press('Escape');
    assert.equal(await box.inputValue(), '');
    await box.press('ArrowUp');
    await box.fill('hello world');
    await box.press('Enter');
    for (const { page } of [gina, admin]) {
      await page.locator('li.message', { hasText: 'hello world' }).getByText('(edited)').waitFor();
      // In the list (the screen-reader log keeps what it said when the message came).
      assert.equal(await page.locator('.messages').getByText('helo world').count(), 0);
    }
    assert.equal(await box.inputValue(), '');
    assert.equal(await gina.page.getByText('Editing your message').count(), 0);

    // Deleting asks first; Cancel keeps the message.
    await send(gina.page, 'oops, wrong room');
    await expectOnce(admin.page, 'oops, wrong room');
    const oops = gina.page.locator('li.message', { hasText: 'oops, wrong room' });
    await oops.getByRole('button', { name: 'Delete' }).click();
    const confirm = gina.page.getByRole('dialog', { name: 'Delete this message?' });
    await confirm.getByText('“Message deleted” stays in its place').waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await oops.waitFor();
    await oops.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    for (const { page } of [gina, admin]) {
      await page.locator('li.message', { hasText: 'Message deleted' }).waitFor();
      assert.equal(await page.getByText('oops, wrong room').count(), 0);
    }
    await gina.page.waitForFunction(() => document.activeElement?.id === 'composer-box');

    // Someone else's message has no Edit or Delete, except Delete for an admin.
    const hers = admin.page.locator('li.message', { hasText: 'hello world' });
    assert.equal(await hers.getByRole('button', { name: 'Edit' }).count(), 0);
    await hers.getByRole('button', { name: 'Delete' }).click();
    const removing = admin.page.getByRole('dialog', { name: 'Delete this message?' });
    await removing.getByText('“Removed by an admin” stays in its place').waitFor();
    await removing.getByRole('button', { name: 'Delete' }).click();
    for (const { page } of [gina, admin]) {
      await page.locator('li.message', { hasText: 'Removed by an admin' }).waitFor();
      assert.equal(await page.getByText('hello world').count(), 0);
    }
    // Nothing of hers is left to edit: Up does nothing.
    await box.press('ArrowUp');
    assert.equal(await box.inputValue(), '');
    assert.deepEqual([...admin.problems, ...gina.problems], []);
    for (const person of [admin, gina]) await person.close();
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
});

test('reactions: a picker or any emoji, one per person, toggled off again, who reacted named, and the other page follows', async () => {
  const hana = await openChat({ name: 'Hana' });
  const ivan = await openChat({ name: 'Ivan' });
  await send(hana.page, 'lunch at noon?');
  await expectOnce(ivan.page, 'lunch at noon?');
  const lunch = (page) => page.locator('li.message', { hasText: 'lunch at noon?' });

  // The picker opens on its first emoji; Escape closes it and gives focus back.
  await lunch(ivan.page).getByRole('button', { name: 'React' }).click();
  const picker = ivan.page.getByRole('group', { name: 'Add a reaction' });
  await ivan.page.waitForFunction(() => document.activeElement?.classList.contains('emoji'));
  await ivan.page.keyboard.press('Escape');
  assert.equal(await picker.count(), 0);
  await ivan.page.waitForFunction(() => document.activeElement?.textContent === 'React');
  await ivan.page.keyboard.press('Enter');
  await picker.getByRole('button', { name: '👍' }).click();
  await lunch(ivan.page).getByRole('button', { name: '👍 1: You', pressed: true }).waitFor();
  await lunch(hana.page).getByRole('button', { name: '👍 1: Ivan', pressed: false }).click();
  for (const [page, who] of [[hana.page, 'You and Ivan'], [ivan.page, 'You and Hana']]) {
    await lunch(page).getByRole('button', { name: `👍 2: ${who}` }).waitFor();
  }

  // Any single emoji may be typed; anything else is refused and adds nothing.
  await lunch(hana.page).getByRole('button', { name: 'React' }).click();
  await hana.page.getByRole('textbox', { name: 'Any emoji' }).fill('🦀');
  await hana.page.getByRole('textbox', { name: 'Any emoji' }).press('Enter');
  await lunch(ivan.page).getByRole('button', { name: '🦀 1: Hana' }).waitFor();
  await lunch(hana.page).getByRole('button', { name: 'React' }).click();
  await hana.page.getByRole('textbox', { name: 'Any emoji' }).fill('ok');
  await hana.page.getByRole('textbox', { name: 'Any emoji' }).press('Enter');
  await hana.page.locator('.composer .error[role=alert]', { hasText: /emoji/i }).waitFor();
  assert.equal(await lunch(hana.page).locator('.reaction').count(), 2);

  // Pressed again, a reaction is taken away, for everyone.
  await lunch(ivan.page).getByRole('button', { name: '👍 2: You and Hana', pressed: true }).click();
  for (const page of [hana.page, ivan.page]) {
    await lunch(page).getByRole('button', { name: /^👍 1: (You|Hana)$/ }).waitFor();
  }
  assert.deepEqual([...hana.problems, ...ivan.problems], []);
  await hana.close();
  await ivan.close();
});

test('replies: answer a message, its quote follows edits and deletion, and opening it loads older pages until it is there', async () => {
  const jon = await openChat({ name: 'Jon' });
  await createRoom(jon.page, 'threads');
  await send(jon.page, 'who has the keys?');
  const box = jon.page.getByRole('textbox', { name: 'Message' });

  // Reply, then Escape: the next message answers nothing.
  const keys = jon.page.locator('li.message', { hasText: 'who has the keys?' });
  await keys.getByRole('button', { name: 'Reply', exact: true }).click();
  await jon.page.getByText('Replying to yourself:').waitFor();
  await jon.page.waitForFunction(() => document.activeElement?.id === 'composer-box');
  await box.press('Escape');
  assert.equal(await jon.page.getByText('Replying to').count(), 0);

  // Fifty-five messages later (more than a history page, fewer than the rows drawn while
  // following), someone answers it.
  const seq = Number(await keys.getAttribute('data-seq'));
  await jon.page.evaluate(async ({ seq }) => {
    const socket = io({ transports: ['websocket'], auth: { token: localStorage.getItem('chat.token') } });
    const post = async (message) => {
      while ((await socket.timeout(5000).emitWithAck('chatMessage', message)).status !== 'ok') {
        await new Promise((resolve) => { setTimeout(resolve, 200); });
      }
    };
    for (let n = 1; n <= 55; n += 1) await post({ room: 'threads', text: `filler ${n}`, clientId: `filler-${n}` });
    await post({ room: 'threads', text: 'Jon has them', clientId: 'answer', replyTo: seq });
    socket.close();
  }, { seq });
  const kim = await openChat({ name: 'Kim', path: '/r/threads' });
  const answer = kim.page.locator('li.message', { hasText: 'Jon has them' });
  const quote = answer.getByRole('button', { name: 'In reply to Jon: “who has the keys?”. Show that message' });
  await quote.waitFor();
  assert.equal(await kim.page.locator('.message .text', { hasText: 'who has the keys?' }).count(), 0, 'not loaded yet');

  // Kim answers the answer from the page.
  await answer.getByRole('button', { name: 'Reply', exact: true }).click();
  await kim.page.getByText('Replying to Jon: Jon has them').waitFor();
  await kim.page.keyboard.type('thanks');
  await kim.page.keyboard.press('Enter');
  await jon.page.locator('li.message', { hasText: 'thanks' })
    .getByRole('button', { name: 'In reply to Jon: “Jon has them”. Show that message' }).waitFor();

  // The quote opens the original, loading the older pages it is in, and focuses it.
  await quote.click();
  await kim.page.waitForFunction((seq) => document.activeElement?.dataset.seq === String(seq), seq);
  await expectOnce(kim.page, 'who has the keys?');

  // An edit, then a deletion, of the original shows in the quote, live.
  const original = jon.page.locator(`li.message[data-seq="${seq}"]`);
  await jon.page.evaluate(async ({ seq }) => {
    const socket = io({ transports: ['websocket'], auth: { token: localStorage.getItem('chat.token') } });
    await socket.timeout(5000).emitWithAck('editMessage', { room: 'threads', seq, text: 'who has the car keys?' });
    socket.close();
  }, { seq });
  await answer.locator('.quote', { hasText: 'who has the car keys?' }).waitFor();
  await original.getByText('(edited)').waitFor();
  await original.getByRole('button', { name: 'Delete' }).click();
  await jon.page.getByRole('dialog', { name: 'Delete this message?' }).getByRole('button', { name: 'Delete' }).click();
  await answer.locator('.quote.gone', { hasText: 'Message deleted' }).waitFor();
  assert.deepEqual([...jon.problems, ...kim.problems], []);
  await jon.close();
  await kim.close();
});

test('search: Ctrl+K, words found in the rooms one can read and marked, a result opens its message', async () => {
  const lea = await openChat({ name: 'Lea' });
  const max = await openChat({ name: 'Max' });
  await max.page.getByRole('textbox', { name: 'New room name' }).fill('vault');
  await max.page.getByRole('checkbox', { name: /Private/ }).check();
  await max.page.getByRole('button', { name: 'Create room' }).click();
  await max.page.locator('h1', { hasText: '# vault' }).waitFor();
  await send(max.page, 'Zebrafish deployment plan, private');
  await createRoom(lea.page, 'zoo');
  await send(lea.page, 'The zebrafish deployment went fine');
  await expectOnce(lea.page, 'zebrafish deployment went fine');
  const seq = await lea.page.locator('li.message', { hasText: 'zebrafish deployment went fine' }).getAttribute('data-seq');
  await lea.page.locator('a[href="/r/general"]').click();
  await lea.page.locator('h1', { hasText: '# general' }).waitFor();

  await lea.page.keyboard.press('Control+k');
  const dialog = lea.page.getByRole('dialog', { name: 'Search messages' });
  const query = dialog.getByRole('searchbox', { name: 'Words to find' });
  await lea.page.waitForFunction(() => document.activeElement?.id === 'search-query');
  await query.fill('?!');
  await query.press('Enter');
  await dialog.getByRole('alert').filter({ hasText: 'Type a word to find.' }).waitFor();

  // Every word, as the start of a word, in any case; Max's private room is not searched.
  await query.fill('ZEBRA deplo');
  await query.press('Enter');
  await dialog.getByRole('status').filter({ hasText: /^1 message found\.$/ }).waitFor();
  const result = dialog.locator('.result');
  assert.deepEqual(await result.locator('mark').allTextContents(), ['zebrafish', 'deployment']);
  await result.getByText(/^#zoo · Lea · /).waitFor();

  // Only in the open room (#general): nothing.
  await dialog.getByRole('checkbox', { name: 'Only in #general' }).check();
  await query.press('Enter');
  await dialog.getByRole('status').filter({ hasText: 'Nothing found.' }).waitFor();
  await dialog.getByRole('checkbox', { name: 'Only in #general' }).uncheck();
  await query.press('Enter');
  await dialog.getByRole('status').filter({ hasText: /^1 message found\.$/ }).waitFor();

  // A result opens its room at the message, which gets focus.
  await result.click();
  await dialog.waitFor({ state: 'detached' });
  await lea.page.locator('h1', { hasText: '# zoo' }).waitFor();
  await lea.page.waitForFunction((seq) => document.activeElement?.dataset.seq === seq, seq);
  assert.deepEqual([...lea.problems, ...max.problems], []);
  await lea.close();
  await max.close();
});

test('mentions: resolved to the person when sent, still theirs after a rename, not whoever takes the name', async () => {
  const cleo = await openChat({ name: 'Cleo' });
  const dan = await openChat({ name: 'Dan' });
  await createRoom(dan.page, 'atelier');
  await joinRoom(cleo.page, 'atelier');
  await cleo.page.locator('a[href="/r/general"]').click();
  await cleo.page.locator('h1', { hasText: '# general' }).waitFor();

  // Dan completes the name: the message carries Cleo's id.
  const box = dan.page.getByRole('textbox', { name: 'Message' });
  await box.focus();
  await dan.page.keyboard.type('@cl');
  await dan.page.getByRole('option', { name: 'Cleo' }).waitFor();
  await dan.page.keyboard.press('Enter');
  await dan.page.keyboard.type('see this');
  await dan.page.keyboard.press('Enter');
  await cleo.page.locator('.room-link', { hasText: 'atelier' }).locator('.badge.mention', { hasText: '@1 mention' }).waitFor();

  // Cleo takes another name, and someone else takes hers.
  await cleo.page.getByRole('button', { name: 'Change name' }).click();
  const dialog = cleo.page.getByRole('dialog', { name: 'Change your name' });
  await dialog.getByRole('textbox', { name: 'Your name' }).fill('Cleo Rivers');
  await dialog.getByRole('textbox', { name: 'Your name' }).press('Enter');
  await dialog.waitFor({ state: 'detached' });
  const other = await openChat({ name: 'Cleo' });
  await joinRoom(other.page, 'atelier');
  await other.page.locator('.message', { hasText: 'see this' }).locator('.mention', { hasText: '@Cleo' }).waitFor();
  assert.equal(await other.page.locator('.message.mentioned').count(), 0, 'the new Cleo is not the one mentioned');
  assert.equal(await other.page.locator('.mention.me').count(), 0);

  // Read again after a reload, the message is still Cleo Rivers's mention.
  await cleo.page.reload();
  await connected(cleo.page);
  await cleo.page.locator('a[href="/r/atelier"]').click();
  await cleo.page.locator('.message.mentioned', { hasText: '@Cleo see this' }).waitFor();
  await cleo.page.locator('.mention.me', { hasText: '@Cleo' }).waitFor();
  assert.deepEqual([...cleo.problems, ...dan.problems, ...other.problems], []);
  await cleo.close();
  await dan.close();
  await other.close();
});

test('files: a pasted picture shows inline in the other page, a file is a card that downloads and never opens in the page', async () => {
  const uma = await openChat({ name: 'Uma' });
  const vic = await openChat({ name: 'Vic' });
  await createRoom(uma.page, 'gallery');
  await joinRoom(vic.page, 'gallery');

  // A picture pasted into the box (40 x 30 pixels), sent without words.
  await uma.page.getByRole('textbox', { name: 'Message' }).focus();
  await uma.page.evaluate((base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], 'red square.png', { type: 'image/png' }));
    const paste = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
    document.activeElement.dispatchEvent(paste);
  }, 'iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAAK0lEQVR4nO3NMQ0AAAgDsMmZfxXIQgYcTfo3056IWCwWi8VisVgsFov/xguJMCDM2TzTeAAAAABJRU5ErkJggg==');
  await uma.page.getByRole('status').filter({ hasText: 'red square.png (' }).filter({ hasText: 'goes with your message' }).waitFor();
  await uma.page.getByRole('textbox', { name: 'Message' }).press('Enter');
  const picture = vic.page.getByRole('img', { name: 'red square.png' });
  await picture.waitFor();
  await vic.page.waitForFunction(() => document.querySelector('.attachment img')?.naturalWidth === 40);
  assert.match(await picture.getAttribute('src'), /^blob:/);

  // Any other file, chosen with the paper clip: an HTML page with a script is a card, and its
  // download is a download, not a page of ours.
  await uma.page.locator('#attach-input').setInputFiles({
    name: 'notes.html',
    mimeType: 'text/html',
    buffer: Buffer.from('<script>window.parent.__ran = true</script><p>notes</p>'),
  });
  await uma.page.getByRole('status').filter({ hasText: 'notes.html (' }).waitFor();
  await send(uma.page, 'my notes');
  const card = vic.page.locator('.message', { hasText: 'my notes' }).locator('.attachment.card');
  await card.getByText('notes.html').waitFor();
  const [download] = await Promise.all([
    vic.page.waitForEvent('download'),
    card.getByRole('button', { name: /^Download notes\.html/ }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'notes.html');
  assert.equal(await vic.page.evaluate(() => window.__ran), undefined);
  assert.deepEqual([...uma.problems, ...vic.problems], []);
  await uma.close();
  await vic.close();
});

test('archived rooms: an admin archives a room, its members can read and not write, until it is back', async () => {
  const fresh = await startServer();
  try {
    const admin = await openPage(browser, { base: fresh.url });
    await admin.page.getByRole('dialog', { name: 'Welcome' }).getByRole('button', { name: 'Create account' }).click();
    await submitAccount(admin.page, 'Create account', 'root', 'root password');
    const ada = await openChat({ base: fresh.url, name: 'Ada' });
    await createRoom(ada.page, 'attic');
    await send(ada.page, 'old notes');
    await joinRoom(admin.page, 'attic');
    assert.equal(await ada.page.getByRole('button', { name: 'Archive' }).count(), 0, 'only an admin archives');

    await admin.page.getByRole('button', { name: 'Archive' }).click();
    await ada.page.locator('h1', { hasText: '# attic (archived)' }).waitFor();
    await ada.page.getByRole('status').filter({ hasText: 'This room is archived' }).waitFor();
    assert.equal(await ada.page.getByRole('textbox', { name: 'Message' }).count(), 0);
    await expectOnce(ada.page, 'old notes');

    await admin.page.getByRole('button', { name: 'Unarchive' }).click();
    await ada.page.locator('h1', { hasText: /^# attic$/ }).waitFor();
    await send(ada.page, 'back in use');
    await expectOnce(admin.page, 'back in use');
    assert.deepEqual([...admin.problems, ...ada.problems], []);
    for (const person of [admin, ada]) await person.close();
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
});

test('accounts: what is read on one device is read on the other', async () => {
  const api = async (name, fields) => {
    const response = await fetch(`${server.url}/api/${name}`, { method: 'POST', body: new URLSearchParams(fields) });
    return response.json();
  };
  const reader = await api('register', { username: 'reader', password: 'reader password' });
  const device = () => openPage(browser, {
    base: server.url,
    init: (token) => localStorage.setItem('chat.token', token),
    initArg: reader.token,
  });
  const laptop = await device();
  await connected(laptop.page);
  await createRoom(laptop.page, 'read-news');
  await laptop.page.getByRole('link', { name: /general/ }).click();
  const phone = await device();
  await connected(phone.page);
  const writer = await openChat({ path: '/r/read-news', name: 'Writer' });
  await send(writer.page, 'news one');
  await send(writer.page, 'news two');
  // The phone, elsewhere, has them unread; the laptop reads them, and a moment later so has the phone.
  const link = phone.page.locator('.room-link', { hasText: 'read-news' });
  await link.locator('.badge', { hasText: '2' }).waitFor();
  await laptop.page.getByRole('link', { name: /read-news/ }).click();
  await expectOnce(laptop.page, 'news two');
  await link.locator('.badge').waitFor({ state: 'detached' });
  assert.deepEqual([...laptop.problems, ...phone.problems, ...writer.problems], []);
  for (const person of [laptop, phone, writer]) await person.close();
});

test('private rooms: made private, joined by invitation only, out of everyone else\'s directory', async () => {
  const owner = await openChat({ name: 'Olga' });
  const friend = await openChat({ name: 'Fred' });
  const outsider = await openChat({ name: 'Otto' });
  const api = async (name, fields) => {
    const response = await fetch(`${server.url}/api/${name}`, { method: 'POST', body: new URLSearchParams(fields) });
    return response.json();
  };
  // Fred has an account, so he can be invited by username.
  const fred = await api('register', { username: 'fred', password: 'fred password' });
  await friend.page.evaluate((token) => localStorage.setItem('chat.token', token), fred.token);
  await friend.page.reload();
  await connected(friend.page);

  await owner.page.getByRole('textbox', { name: 'New room name' }).fill('plans');
  await owner.page.getByRole('checkbox', { name: /Private/ }).check();
  await owner.page.getByRole('button', { name: 'Create room' }).click();
  await owner.page.locator('h1', { hasText: '# plans (private)' }).waitFor();
  assert.equal(await owner.page.getByRole('checkbox', { name: /Private/ }).isChecked(), false, 'the next room starts public');

  await owner.page.getByRole('button', { name: 'Invite' }).click();
  const dialog = owner.page.getByRole('dialog', { name: 'Invite someone' });
  await dialog.getByRole('textbox', { name: 'Their username' }).fill('nobody-here');
  await dialog.getByRole('button', { name: 'Add to room' }).click();
  await dialog.locator('#invitee-problem', { hasText: 'No one here has that id or username.' }).waitFor();
  await dialog.getByRole('textbox', { name: 'Their username' }).fill('@Fred');
  await dialog.getByRole('button', { name: 'Add to room' }).click();
  await dialog.getByRole('status').filter({ hasText: 'Added @Fred.' }).waitFor();
  await dialog.getByRole('button', { name: 'Done' }).click();
  // Focus goes back to the button that opened the dialog (once the page is no longer inert).
  await owner.page.waitForFunction(() => document.activeElement?.id === 'invite-button');

  // Fred is told, and the room is in his list at once.
  const notice = friend.page.getByRole('status').filter({ hasText: 'Olga added you to #plans.' });
  await notice.getByRole('button', { name: 'Open #plans' }).click();
  await friend.page.locator('h1', { hasText: '# plans (private)' }).waitFor();
  await send(owner.page, 'only for us');
  await expectOnce(friend.page, 'only for us');

  // Otto cannot find it, nor get in by its link.
  await outsider.page.getByRole('button', { name: 'Browse rooms' }).click();
  await outsider.page.locator('#directory > *').first().waitFor();
  assert.equal(await outsider.page.getByRole('button', { name: 'Join #plans' }).count(), 0);
  assert.deepEqual([...owner.problems, ...friend.problems, ...outsider.problems], []);
  for (const person of [owner, friend, outsider]) await person.close();
});

test('direct messages: started from a name, listed apart, read only by the two, still there after a reload', async () => {
  const ada = await openChat({ name: 'Dora' });
  const bob = await openChat({ name: 'Dmitri' });
  const eve = await openChat({ name: 'Edna' });
  await send(bob.page, 'ask me anything, Dora');
  // Dora writes to Dmitri from his name on his message.
  const his = ada.page.locator('.message', { hasText: 'ask me anything, Dora' });
  await his.getByRole('button', { name: 'Dmitri' }).click();
  await ada.page.locator('h1', { hasText: /^Dmitri$/ }).waitFor();
  const direct = ada.page.getByRole('list', { name: 'Direct messages' });
  await direct.getByRole('link', { name: 'Dmitri' }).waitFor();
  assert.equal(await ada.page.getByRole('textbox', { name: 'Message' }).getAttribute('placeholder'), 'Message Dmitri');
  await send(ada.page, 'a quiet word, just for you');
  await expectOnce(ada.page, 'a quiet word, just for you');

  // Dmitri is told, and the conversation counts for him as a mention would.
  const notice = bob.page.getByRole('status').filter({ hasText: 'Dora opened a conversation with you.' });
  await notice.waitFor();
  const link = bob.page.getByRole('list', { name: 'Direct messages' }).getByRole('link', { name: /^Dora/ });
  await link.locator('.badge.mention', { hasText: '@1' }).waitFor();
  await notice.getByRole('button', { name: 'Open Dora' }).click();
  await bob.page.locator('h1', { hasText: /^Dora$/ }).waitFor();
  await expectOnce(bob.page, 'a quiet word, just for you');
  await send(bob.page, 'and back to you');
  await expectOnce(ada.page, 'and back to you');

  // Edna sees none of it: not in her list, not found by search.
  await eve.page.getByRole('button', { name: 'Search' }).click();
  const search = eve.page.getByRole('dialog', { name: 'Search messages' });
  await search.getByRole('searchbox', { name: 'Words to find' }).fill('quiet word');
  await search.getByRole('button', { name: 'Search' }).click();
  await search.getByRole('status').filter({ hasText: 'Nothing found.' }).waitFor();
  await search.getByRole('button', { name: 'Close' }).click();
  assert.equal(await eve.page.getByRole('list', { name: 'Direct messages' }).count(), 0);

  // A reload keeps it, named after the other person.
  await bob.page.reload();
  await connected(bob.page);
  await bob.page.getByRole('list', { name: 'Direct messages' }).getByRole('link', { name: 'Dora' }).click();
  await expectOnce(bob.page, 'and back to you');
  assert.deepEqual([...ada.problems, ...bob.problems, ...eve.problems], []);
  for (const person of [ada, bob, eve]) await person.close();
});

test('accounts: a banned person\'s open page is disconnected and says why', async () => {
  const fresh = await startServer();
  const api = async (name, fields) => {
    const response = await fetch(`${fresh.url}/api/${name}`, { method: 'POST', body: new URLSearchParams(fields) });
    return response.json();
  };
  try {
    const admin = await api('register', { username: 'root', password: 'admin password' });
    const eve = await openChat({ base: fresh.url, name: 'Eve' });
    await send(eve.page, 'spam spam spam');
    await expectOnce(eve.page, 'spam spam spam');
    const history = await api('history', { token: admin.token, room: 'general', limit: '10' });
    const eveId = history.find((message) => message.text === 'spam spam spam').author.id;
    assert.equal(await api('ban', { token: admin.token, user: eveId }), null);
    await eve.page.getByText('An admin banned you from this chat.').waitFor();
    assert.equal(await eve.page.locator('[role=status]', { hasText: 'Connected' }).count(), 0);
    await eve.close();
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
});

test('accounts: with --guests off only logging in and signing up are offered, and a refused connection says why', async () => {
  const members = await startServer({ args: ['--guests', 'off'] });
  try {
    const first = await openPage(browser, { base: members.url });
    // The server has no account yet: signing up, as its admin.
    const signUp = first.page.getByRole('dialog', { name: 'Create account' });
    await signUp.getByText('its admin').waitFor();
    assert.equal(await first.page.getByRole('textbox', { name: 'Your name' }).count(), 0);
    assert.equal(await signUp.getByRole('button', { name: 'Chat as a guest' }).count(), 0);
    await submitAccount(first.page, 'Create account', 'owner', 'owner password');

    // A browser holding a session the server does not know (or a guest's): refused, and told why.
    const stale = await openPage(browser, {
      base: members.url,
      init: () => localStorage.setItem('chat.token', 'no-such-session'),
    });
    const logIn = stale.page.getByRole('dialog', { name: 'Log in' });
    await logIn.getByText('This chat is for members: log in first.').waitFor();
    assert.equal(await logIn.getByRole('button', { name: 'Chat as a guest' }).count(), 0);
    await submitAccount(stale.page, 'Log in', 'owner', 'owner password');
    // Connection refusals are reported by the browser as failed requests: nothing else.
    assert.deepEqual(stale.problems.filter((p) => !p.includes('WebSocket')), []);
    assert.deepEqual(first.problems, []);
    await first.close();
    await stale.close();
  } finally {
    assert.equal(await members.stop(), 0);
  }
});
