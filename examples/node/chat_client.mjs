#!/usr/bin/env node
// A command-line client for the chat, written against docs/PROTOCOL.md.
//
// It connects as a guest with a display name, or with --username and --password as an account
// (logging in with POST /api/login first, or creating the account with --register), prints the
// welcome, catches up with `sync`, sends one message with a `clientId` and prints the
// acknowledgement, then prints every message that arrives, every edit and deletion of a message,
// and every invitation into a room or direct conversation (which it then catches up on too).
// With --to USER_ID it writes in the direct conversation with that person instead of a room.
// Lines typed on standard input are sent as further messages; end of input (Ctrl-D) disconnects.
//
// With --once it sends its one message, waits until that message comes back as a broadcast, then
// disconnects and exits 0. It exits 1 if anything fails or takes longer than --timeout seconds, if
// the login is refused, or if the server refuses the connection (a ban; a chat for members only).
//
//     node examples/node/chat_client.mjs [URL] [--name NAME]
//         [--username USER --password PASSWORD [--register]] [--room ROOM | --to USER_ID]
//         [--text TEXT] [--once]
//
// Needs socket.io-client 4 (`npm install` at the repository root).
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';

const DEFAULT_URL = 'http://127.0.0.1:4000';
const DEFAULT_NAME = 'Node example';
// A client seeing a room for the first time picks where to start; this one shows the last few
// messages as context. Older pages are one POST /api/history away.
const BACKLOG = 10;
const ACK_TIMEOUT_MS = 5000;
// Attempts to send one message, waiting 1 s, 2 s, ... in between: long enough to ride out a
// reconnect.
const SEND_ATTEMPTS = 5;

const say = (line) => console.log(line);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server answered a request with `{ status: "error" }`. */
class Refused extends Error {
  constructor(error) {
    super(`${error.code}: ${error.message}`);
    this.code = error.code;
  }
}

/**
 * Each room's messages and changes (edits, deletions) exactly once and in `seq` order, however
 * they arrive: a change takes the room's next `seq` like a message.
 *
 * Broadcasts, `sync` replies and acknowledgements can overlap and interleave. Keyed by
 * (room, seq), anything at or below a room's cursor is a repeat and dropped; anything past the
 * next expected number waits until the gap before it is filled.
 */
class Timeline {
  /** room -> highest seq shown */
  cursor = new Map();
  /** room -> Map(seq -> message or change) that arrived ahead of a gap */
  held = new Map();

  /** Sets where a room begins, unless it is known already (a reconnect keeps its place). */
  start(room, seq) {
    if (!this.cursor.has(room)) this.cursor.set(room, seq);
  }

  /** Takes a message or a change and returns those that can now be shown, in order. */
  add(entry) {
    const { room, seq } = entry;
    if (!this.cursor.has(room)) this.cursor.set(room, seq - 1);
    let cursor = this.cursor.get(room);
    if (seq <= cursor) return [];
    if (!this.held.has(room)) this.held.set(room, new Map());
    const held = this.held.get(room);
    held.set(seq, entry);
    const ready = [];
    while (held.has(cursor + 1)) {
      cursor += 1;
      ready.push(held.get(cursor));
      held.delete(cursor);
    }
    this.cursor.set(room, cursor);
    return ready;
  }

  hasGap() {
    return [...this.held.values()].some((held) => held.size > 0);
  }

  cursors() {
    return [...this.cursor].map(([room, afterSeq]) => ({ room, afterSeq }));
  }
}

class ChatClient {
  constructor(url, name) {
    this.url = url;
    this.user = null;
    this.timeline = new Timeline();
    this.syncing = null;
    this.closing = false;
    /** clientId -> callback run when the server broadcasts that message back to us */
    this.echoes = new Map();
    this.welcomed = new Promise((resolve) => {
      this.onFirstWelcome = resolve;
    });
    /** Resolves with the reason when the server refuses a (re)connection: that is final. */
    this.refused = new Promise((resolve) => {
      this.onRefused = resolve;
    });
    // `auth` is read on every (re)connection attempt; after the welcome it carries the token, so
    // a reconnect resumes the same session.
    this.socket = io(url, { auth: { name }, autoConnect: false });
    this.socket.on('welcome', (welcome) => this.onWelcome(welcome));
    this.socket.on('chatMessage', (message) => this.onChatMessage(message));
    this.socket.on('messageChanged', (change) => this.show(change));
    this.socket.on('presence', ({ room, online, joined, left }) => {
      const names = (users) => users.map((user) => user.name).join(', ') || '-';
      say(`presence #${room}: ${online} online; joined ${names(joined)}; left ${names(left)}`);
    });
    this.socket.on('typing', ({ room, user }) => say(`typing #${room}: ${user.name}`));
    // Live delivery may have missed messages up to lastSeq (a cluster's fan-out was down).
    this.socket.on('roomHead', ({ room, lastSeq }) => {
      if ((this.timeline.cursor.get(room) ?? lastSeq) < lastSeq) this.catchUpSoon();
    });
    this.socket.on('invited', ({ room, by }) => {
      if (room.people) {
        say(`direct: ${by.name} opened a conversation with you (#${room.name})`);
      } else {
        say(`invited: ${by.name} brought you into #${room.name}${room.private ? ' (private)' : ''}`);
      }
      // A room like the ones of the welcome, but all of it is new to us: catch up from the start.
      this.timeline.start(room.name, 0);
      // A catch-up already under way may have asked before the room was known.
      Promise.resolve(this.syncing).then(() => this.catchUpSoon());
    });
    this.socket.on('chatError', ({ code, message }) => say(`refused: ${code}: ${message}`));
    this.socket.on('connect_error', (error) => {
      // A refused handshake (a ban, a name too long) is final; a network error is retried by the
      // client on its own.
      if (this.socket.active) return say(`could not connect: ${error.message}`);
      say(`connection refused: ${error.message}`);
      this.onRefused(error.message);
    });
    this.socket.on('disconnect', (reason) => {
      say(`disconnected (${reason})`);
      // The client retries by itself after a network failure, but not after the server ended the
      // session on purpose (it does so to every client when it shuts down). Whichever way the
      // connection comes back, its welcome starts a catch-up.
      if (reason === 'io server disconnect') {
        setTimeout(() => this.closing || this.socket.connect(), 1000);
      }
    });
  }

  /** `login` or `register` over HTTP; the session's token then goes in `auth`. */
  async signIn(action, username, password, name) {
    const fields = new URLSearchParams({ username, password, ...(name && { name }) });
    const response = await fetch(new URL(`/api/${action}`, this.url), {
      method: 'POST',
      body: fields,
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new Refused(answer ?? { code: response.status, message: 'no answer' });
    this.socket.auth = { token: answer.token };
    const { user, account } = answer;
    say(`${action}: you are ${user.name} (@${account.username}, ${account.role})`);
  }

  connect() {
    this.socket.connect();
    return this.welcomed;
  }

  close() {
    this.closing = true;
    this.socket.close();
  }

  onWelcome(welcome) {
    this.user = welcome.user;
    this.socket.auth = { token: welcome.token };
    const rooms = welcome.rooms.map((room) => `#${room.name} (last seq ${room.lastSeq})`);
    const who = welcome.account ? `${this.user.id}, @${welcome.account.username}` : this.user.id;
    say(
      `welcome: you are ${this.user.name} (${who}); rooms: ${rooms.join(', ')}; ` +
        `messages up to ${welcome.maxMessageChars} characters`,
    );
    for (const room of welcome.rooms) {
      this.timeline.start(room.name, Math.max(0, room.lastSeq - BACKLOG));
    }
    this.catchUpSoon();
    this.onFirstWelcome(welcome);
  }

  onChatMessage(message) {
    this.show(message);
    const echo = this.echoes.get(message.clientId);
    if (echo && message.author.id === this.user?.id) echo(message);
  }

  /** Prints a message or a change (`messageChanged`) once its turn in the room comes. */
  show(entry) {
    for (const ready of this.timeline.add(entry)) {
      say(`[#${ready.room} ${ready.seq}] ${describe(ready, this.user)}`);
    }
    if (this.timeline.hasGap()) this.catchUpSoon();
  }

  catchUpSoon() {
    if (!this.syncing) {
      this.syncing = this.catchUp().finally(() => {
        this.syncing = null;
      });
    }
    return this.syncing;
  }

  /** Asks for everything after each cursor until no room has more and no gap is left. */
  async catchUp() {
    try {
      for (;;) {
        const { messages, changes = [], more } = await this.request('sync', {
          rooms: this.timeline.cursors(),
        });
        say(`sync: ${messages.length} message(s) and ${changes.length} change(s) to catch up on`);
        // Messages come as they are now (edited, or a tombstone); the changes are for those
        // shown before. Both take their turn by seq.
        for (const entry of [...messages, ...changes]) this.show(entry);
        // `more`: the server cut the reply short (a page per room, a size per reply).
        if (more) continue;
        // A gap left after a pass that brought nothing new is not this sync's to fill; the
        // next broadcast or reconnect tries again.
        if (messages.length + changes.length === 0 || !this.timeline.hasGap()) return;
      }
    } catch (error) {
      // The next welcome (after a reconnect) starts another catch-up.
      say(`sync failed: ${error.message}`);
    }
  }

  async request(event, payload) {
    const ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    if (ack.status !== 'ok') throw new Refused(ack.error);
    return ack;
  }

  /** Joins `room` unless this session is in it already; returns its canonical name. */
  async join(room) {
    if (this.timeline.cursor.has(room)) return room;
    const { room: info, members } = await this.request('joinRoom', { room });
    say(
      `joined #${info.name} (last seq ${info.lastSeq}); ` +
        `online: ${members.map((member) => member.name).join(', ')}`,
    );
    return this.entered(info);
  }

  /** Opens the direct conversation with the user `id`; returns its room's name. */
  async openDirect(id) {
    const { room: info } = await this.request('openDirect', { with: [id] });
    const others = info.people.filter((person) => person.id !== this.user.id);
    say(
      `direct: with ${others.map((person) => person.name).join(', ')} in #${info.name} ` +
        `(last seq ${info.lastSeq})`,
    );
    return this.entered(info);
  }

  /** A room this session is now in: caught up on from its last few messages. */
  async entered(info) {
    if (this.timeline.cursor.has(info.name)) return info.name;
    this.timeline.start(info.name, Math.max(0, info.lastSeq - BACKLOG));
    // A catch-up already under way may have asked before the room was known.
    await this.syncing;
    await this.catchUpSoon();
    return info.name;
  }

  /**
   * Sends one message, retrying with the same clientId so it is stored at most once. Resolves
   * to `{ echoed }`, a promise of the message's broadcast coming back.
   */
  async send(text, room) {
    const clientId = randomUUID();
    const echoed = new Promise((resolve) => this.echoes.set(clientId, resolve));
    for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt += 1) {
      let ack;
      try {
        ack = await this.request('chatMessage', { text, room, clientId });
      } catch (error) {
        const retry = attempt < SEND_ATTEMPTS;
        if (error instanceof Refused && (error.code !== 'rate_limited' || !retry)) throw error;
        if (!retry) throw new Error(`no acknowledgement after ${SEND_ATTEMPTS} attempts`);
        say(`send attempt ${attempt} failed (${error.message}); retrying, same clientId`);
        await sleep(attempt * 1000);
        continue;
      }
      const { message } = ack;
      say(`ack: stored as #${message.room} ${message.seq} (clientId ${clientId})`);
      this.show(message);
      return { echoed };
    }
    throw new Error('unreachable');
  }
}

/** One line for a message or a change, after its `[#room seq]`. */
function describe(entry, me) {
  if ('target' in entry) {
    if (entry.change === 'edited') return `#${entry.target} edited: ${entry.text}`;
    if (entry.change === 'reacted') return `#${entry.target} ${entry.user.name} reacted ${entry.emoji}`;
    if (entry.change === 'unreacted') {
      return `#${entry.target} ${entry.user.name} took back ${entry.emoji}`;
    }
    const by = entry.by === 'admin' ? 'removed by an admin' : 'deleted by its author';
    return `#${entry.target} ${by}`;
  }
  const mine = entry.author.id === me?.id ? ' (you)' : '';
  const text = { author: '(message deleted)', admin: '(removed by an admin)' }[entry.deleted]
    ?? (entry.editedAt ? `${entry.text} (edited)` : entry.text);
  // Reactions as the message had them when it was read: `(👍 2, 🎉 1)`.
  const counts = (entry.reactions ?? []).map(({ emoji, by }) => `${emoji} ${by.length}`);
  const reactions = counts.length ? ` (${counts.join(', ')})` : '';
  return `${entry.author.name}${mine}: ${text}${reactions}`;
}

/** Rejects after `seconds`, so that nothing waits forever. */
function within(seconds, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    const expire = () => reject(new Error(`nothing came back within ${seconds} s`));
    timer = setTimeout(expire, seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function run(args) {
  const client = new ChatClient(args.url, args.name ?? DEFAULT_NAME);
  const input = args.once ? null : createInterface({ input: process.stdin });
  try {
    if (args.username !== undefined) {
      const action = args.register ? 'register' : 'login';
      try {
        await client.signIn(action, args.username, args.password, args.register && args.name);
      } catch (error) {
        say(error instanceof Refused ? `${action} refused: ${error.message}` : `gave up: ${error}`);
        return 1;
      }
    }
    // A refused reconnection (say, the user was banned) ends the run as well.
    return await Promise.race([chat(client, args, input), client.refused.then(() => 1)]);
  } finally {
    input?.close();
    client.close();
  }
}

async function chat(client, args, input) {
  try {
    await within(args.timeout, Promise.race([client.connect(), client.refused]));
    if (!client.user) return 1; // refused: said so already
    await client.syncing;
    const room = args.to ? await client.openDirect(args.to) : await client.join(args.room);
    const { echoed } = await client.send(args.text, room);
    if (args.once) {
      const echo = await within(args.timeout, echoed);
      say(`echo: our message came back as #${echo.room} ${echo.seq}`);
      return 0;
    }
    for await (const line of input) {
      if (!line.trim()) continue;
      try {
        await client.send(line, room);
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        say(`refused: ${error.message}`);
      }
    }
    return 0;
  } catch (error) {
    say(`gave up: ${error.message}`);
    return 1;
  }
}

function parse() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      register: { type: 'boolean', default: false },
      room: { type: 'string', default: 'general' },
      to: { type: 'string' },
      text: { type: 'string', default: 'Hello from the Node example' },
      once: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '15' },
    },
  });
  if ((values.username === undefined) !== (values.password === undefined)
    || (values.register && values.username === undefined)) {
    console.error('--username and --password go together (and --register needs them)');
    process.exit(2);
  }
  return { ...values, url: positionals[0] ?? DEFAULT_URL, timeout: Number(values.timeout) };
}

process.exitCode = await run(parse());
