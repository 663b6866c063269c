// The example clients in examples/ against the release server: each connects, catches up, sends
// one message with --once and must see it come back as a broadcast, then exit 0 by itself; does
// the same as an account it registers, then logs in to; follows an invitation into a private
// room; prints edits and deletions, caught up and live; and exits 1 when a login or the
// connection is refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import { startServer } from './server.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Longer than a client's own --timeout, so a stuck client reports itself before it is killed. */
const KILL_AFTER_MS = 60_000;

let dataDir;
let server;

before(async () => {
  // The server keeps its database in ./data under its working directory: a fresh one per run.
  dataDir = await mkdtemp(join(tmpdir(), 'chat-examples-'));
  server = await startServer({ cwd: dataDir });
});

after(async () => {
  assert.equal(await server?.stop(), 0, 'graceful shutdown exits 0');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Each example as a command line: the program and the script it runs. */
const CLIENTS = {
  Python() {
    const python = process.env.CHAT_PYTHON;
    assert.ok(
      python,
      'CHAT_PYTHON is not set: point it at a Python that has examples/python/requirements.txt '
        + 'installed, such as the venv target/py/bin/python',
    );
    return [python, join(ROOT, 'examples/python/chat_client.py')];
  },
  Node: () => [process.execPath, join(ROOT, 'examples/node/chat_client.mjs')],
};

/** Runs an example to its end with these arguments. */
function runClient(label, args) {
  const [command, script] = CLIENTS[label]();
  return run(command, [script, ...args]);
}

/** Runs a program to its end and returns its exit code and everything it printed. */
function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** What every example must print for one message sent with --once. */
function assertEchoed({ code, signal, output }, text) {
  assert.equal(signal, null, `killed by ${signal}:\n${output}`);
  assert.equal(code, 0, `exit code:\n${output}`);
  assert.match(output, /^welcome: you are /m, output);
  assert.match(output, /^sync: \d+ message\(s\)/m, output);
  const ack = output.match(/^ack: stored as #general (\d+) \(clientId [\w-]+\)$/m);
  assert.ok(ack, `an ack line:\n${output}`);
  assert.ok(output.includes(`(you): ${text}\n`), `the message is shown:\n${output}`);
  const echo = new RegExp(`^echo: our message came back as #general ${ack[1]}$`, 'm');
  assert.match(output, echo, `the broadcast of that same message came back:\n${output}`);
}

/** The user id in the welcome line. */
function welcomeId(output) {
  const welcome = output.match(/^welcome: you are .+ \(([\w-]+)(?:, @[\w.-]+)?\); rooms: /m);
  assert.ok(welcome, `a welcome line:\n${output}`);
  return welcome[1];
}

for (const label of Object.keys(CLIENTS)) {
  const short = label.slice(0, 2);

  test(`the ${label} example sends a message and sees its echo`, async () => {
    const text = `${label} says hi ${randomUUID()}`;
    const result = await runClient(label, [server.url, '--once', '--name', short, '--text', text]);
    assertEchoed(result, text);
  });

  test(`the ${label} example registers, logs in again, is refused a wrong password`, async () => {
    const username = `${short.toLowerCase()}-${randomUUID().slice(0, 8)}`;
    const password = `secret ${randomUUID()}`;
    const account = ['--username', username, '--password', password];
    const signedIn = (action) =>
      new RegExp(`^${action}: you are ${username} \\(@${username}, (admin|member)\\)$`, 'm');

    const text = `${label} registered ${randomUUID()}`;
    const registered = await runClient(label, [
      server.url, '--once', '--register', ...account, '--text', text,
    ]);
    assertEchoed(registered, text);
    assert.match(registered.output, signedIn('register'), registered.output);
    assert.match(registered.output, new RegExp(`^welcome: .*, @${username}\\); `, 'm'));
    const id = welcomeId(registered.output);

    const again = `${label} logged in ${randomUUID()}`;
    const loggedIn = await runClient(label, [server.url, '--once', ...account, '--text', again]);
    assertEchoed(loggedIn, again);
    assert.match(loggedIn.output, signedIn('login'), loggedIn.output);
    assert.equal(welcomeId(loggedIn.output), id, 'the same user as the registration');

    const wrong = await runClient(label, [
      server.url, '--once', '--username', username, '--password', `not ${password}`,
    ]);
    assert.equal(wrong.code, 1, `exit code:\n${wrong.output}`);
    assert.match(wrong.output, /^login refused: unauthorized: /m, wrong.output);
    assert.doesNotMatch(wrong.output, /^welcome: /m, wrong.output);

    for (const { output } of [registered, loggedIn, wrong]) {
      assert.ok(!output.includes(password), `the password is never printed:\n${output}`);
    }
  });

  test(`the ${label} example follows an invitation into a private room`, async (t) => {
    const { id, next, end } = await interactive(t, label, `${short} guest`);
    const host = await hostFor(t, `${short} host`);
    // Someone else makes a private room, writes in it, then brings the client in: it must catch
    // up on what it missed and receive what follows.
    const room = `secret-${randomUUID().slice(0, 8)}`;
    await host.request('createRoom', { room, private: true });
    await host.request('chatMessage', { room, text: 'before you came' });
    await host.request('invite', { room, user: id });
    await next(new RegExp(`^invited: ${short} host brought you into #${room} \\(private\\)$`));
    await next(new RegExp(`^\\[#${room} 1\\] ${short} host: before you came$`));
    await host.request('chatMessage', { room, text: 'welcome in' });
    await next(new RegExp(`^\\[#${room} 2\\] ${short} host: welcome in$`));
    await end();
  });

  test(`the ${label} example is written to directly, and writes to someone directly`, async (t) => {
    const { id, next, end } = await interactive(t, label, `${short} friend`);
    const host = await hostFor(t, `${short} pal`);
    // Someone opens a conversation with the client and writes: it is told, and follows.
    const { room } = await host.request('openDirect', { with: [id] });
    const name = room.name.replace('.', '\\.');
    await next(new RegExp(`^direct: ${short} pal opened a conversation with you \\(#${name}\\)$`));
    await host.request('chatMessage', { room: room.name, text: 'just us' });
    await next(new RegExp(`^\\[#${name} 1\\] ${short} pal: just us$`));
    await end();
    // Another run posts its one message in its own conversation with the same person.
    const text = `${label} direct ${randomUUID()}`;
    const sent = await runClient(label, [
      server.url, '--once', '--name', `${short} caller`, '--to', host.id, '--text', text,
    ]);
    assert.equal(sent.code, 0, `exit code:\n${sent.output}`);
    const opened = sent.output.match(new RegExp(`^direct: with ${short} pal in #(dm\\.[0-9a-f]{28}) \\(last seq 0\\)$`, 'm'));
    assert.ok(opened, `the conversation opened:\n${sent.output}`);
    assert.notEqual(opened[1], room.name, 'a conversation of other people');
    assert.match(sent.output, new RegExp(`^echo: our message came back as #${opened[1].replace('.', '\\.')} 1$`, 'm'));
  });

  test(`the ${label} example prints edits and deletions, caught up and live`, async (t) => {
    const { id, next, end } = await interactive(t, label, `${short} reader`);
    const host = await hostFor(t, `${short} writer`);
    const room = `edits-${randomUUID().slice(0, 8)}`;
    const line = (seq, rest) => new RegExp(`^\\[#${room} ${seq}\\] ${rest}$`);
    // Before the client is in the room: an edit (seq 2) of message 1, caught up on with `sync`,
    // the message already as it is now.
    await host.request('createRoom', { room, private: true });
    await host.request('chatMessage', { room, text: 'frist' });
    await host.request('editMessage', { room, seq: 1, text: 'first' });
    await host.request('chatMessage', { room, text: 'second' });
    await host.request('invite', { room, user: id });
    await next(line(1, `${short} writer: first \\(edited\\)`));
    await next(line(2, '#1 edited: first'));
    await next(line(3, `${short} writer: second`));
    // Live, in order; the message after them shows the changes' seqs left no gap.
    await host.request('editMessage', { room, seq: 3, text: 'second, better' });
    await next(line(4, '#3 edited: second, better'));
    await host.request('deleteMessage', { room, seq: 1 });
    await next(line(5, '#1 deleted by its author'));
    await host.request('chatMessage', { room, text: 'third' });
    await next(line(6, `${short} writer: third`));
    await end();
  });

  test(`the ${label} example prints reactions, caught up and live`, async (t) => {
    const { id, next, end } = await interactive(t, label, `${short} fan`);
    const host = await hostFor(t, `${short} poster`);
    const room = `reactions-${randomUUID().slice(0, 8)}`;
    const line = (seq, rest) => new RegExp(`^\\[#${room} ${seq}\\] ${rest}$`);
    // Before the client is in the room: the message is caught up on with its reactions, then
    // the reactions themselves (changes to a message already as it is now).
    await host.request('createRoom', { room, private: true });
    await host.request('chatMessage', { room, text: 'good news' });
    await host.request('react', { room, seq: 1, emoji: '👍' });
    await host.request('react', { room, seq: 1, emoji: '🎉' });
    await host.request('invite', { room, user: id });
    await next(line(1, `${short} poster: good news \\(👍 1, 🎉 1\\)`));
    await next(line(2, `#1 ${short} poster reacted 👍`));
    await next(line(3, `#1 ${short} poster reacted 🎉`));
    await host.request('unreact', { room, seq: 1, emoji: '👍' });
    await next(line(4, `#1 ${short} poster took back 👍`));
    await end();
  });
}

/**
 * An example running interactively as a guest named `name`, until `end` closes its input: its
 * user `id` (once it has sent its first message), and `next(pattern)`, the next line it prints
 * that matches.
 */
async function interactive(t, label, name) {
  const [command, script] = CLIENTS[label]();
  const child = spawn(command, [script, server.url, '--name', name], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'close');
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const printed = [];
  const next = async (pattern) => {
    for (let line; !(line = await lines.next()).done;) {
      printed.push(line.value);
      const match = line.value.match(pattern);
      if (match) return match;
    }
    assert.fail(`the client ended before printing ${pattern}:\n${printed.join('\n')}`);
  };
  const [, id] = await next(/^welcome: you are .+ \(([\w-]+)\); /);
  await next(/^ack: /);
  const end = async () => {
    child.stdin.end();
    const [code] = await exited;
    assert.equal(code, 0, `exit code after end of input:\n${printed.join('\n')}`);
  };
  return { id, next, end };
}

/**
 * Another person, on a socket.io-client connection: their user `id`, and `request`, which
 * asserts each is accepted.
 */
async function hostFor(t, name) {
  const socket = io(server.url, { auth: { name }, transports: ['websocket'] });
  t.after(() => socket.close());
  const [welcome] = await once(socket, 'welcome');
  const request = async (event, payload) => {
    const ack = await socket.timeout(5000).emitWithAck(event, payload);
    assert.equal(ack.status, 'ok', `${event}: ${JSON.stringify(ack)}`);
    return ack;
  };
  return { request, id: welcome.user.id };
}

test('both examples print a refused connection and exit 1', async () => {
  // A second server, that lets in accounts only: the examples, started without an account, are
  // refused at the handshake and must say so instead of retrying.
  const membersOnly = await startServer({ cwd: dataDir, args: ['--guests', 'off'] });
  try {
    for (const label of Object.keys(CLIENTS)) {
      const { code, signal, output } = await runClient(label, [membersOnly.url, '--once']);
      assert.equal(signal, null, `killed by ${signal}:\n${output}`);
      assert.equal(code, 1, `${label} exit code:\n${output}`);
      assert.match(output, /^connection refused: .*log in first/m, output);
      assert.doesNotMatch(output, /^welcome: /m, output);
    }
  } finally {
    assert.equal(await membersOnly.stop(), 0, 'graceful shutdown exits 0');
  }
});
