// A chat member for the cluster tests: socket.io-client following docs/PROTOCOL.md to the
// letter (catch-up after every welcome, on a gap and on `roomHead`; sends with a `clientId`,
// retried until acknowledged; edits, deletions and reactions take their seqs like messages and
// apply to the messages held), recording everything it was shown so a test can check that nothing was lost,
// repeated or reordered.
import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';

const ACK_TIMEOUT_MS = 5000;
const TRANSIENT = new Set(['rate_limited', 'overloaded', 'unavailable', 'internal']);

export class Member {
  /** room -> Map(seq -> message): everything received, by any path, as its changes left it. */
  received = new Map();
  /** room -> Map(seq -> change): the edits, deletions and reactions received (`messageChanged`,
   * `sync`). */
  changes = new Map();
  /** room -> the highest seq below which nothing is missing (only grows) */
  cursors = new Map();
  /** [first, second] messages (or changes) that arrived under one (room, seq): must stay empty. */
  conflicts = [];
  /** clientId -> acknowledged message */
  acked = new Map();
  welcomes = 0;
  /** sends refused as `internal` (retried, but a server fault: tests expect none) */
  internal = 0;
  /** { room, seq, resolve } of `caughtUp` calls still waiting */
  waiters = new Set();
  /** resolve functions of `nextRefusal` calls */
  refusalWaiters = [];

  /** `options` go to socket.io-client (transports, localAddress, ...). */
  constructor(url, name, options = {}) {
    this.name = name;
    this.socket = io(url, {
      auth: { name },
      forceNew: true,
      reconnectionDelay: 200,
      reconnectionDelayMax: 1000,
      ...options,
    });
    this.welcomed = new Promise((resolve) => { this.onFirstWelcome = resolve; });
    this.socket.on('welcome', (welcome) => {
      this.welcomes += 1;
      this.user = welcome.user;
      this.socket.auth = { token: welcome.token };
      for (const room of welcome.rooms) this.roomOf(room.name);
      this.sync();
      this.onFirstWelcome(welcome);
    });
    this.socket.on('chatMessage', (message) => this.add([message]));
    this.socket.on('messageChanged', (change) => this.add([change]));
    this.socket.on('roomHead', ({ room, lastSeq }) => {
      if (this.cursor(room) < lastSeq) this.sync();
    });
    this.socket.on('disconnect', (reason) => {
      // The server ends every session when it shuts down; come back through the balancer.
      if (reason === 'io server disconnect') setTimeout(() => this.socket.connect(), 200);
    });
  }

  roomOf(room) {
    if (!this.received.has(room)) this.received.set(room, new Map());
    return this.received.get(room);
  }

  changesOf(room) {
    if (!this.changes.has(room)) this.changes.set(room, new Map());
    return this.changes.get(room);
  }

  /** The highest seq of `room` below which nothing is missing (messages and changes). */
  cursor(room) {
    const messages = this.roomOf(room);
    const changes = this.changesOf(room);
    let seq = this.cursors.get(room) ?? 0;
    while (messages.has(seq + 1) || changes.has(seq + 1)) seq += 1;
    this.cursors.set(room, seq);
    return seq;
  }

  /** Takes in messages and changes, in any order and any number of times. */
  add(entries) {
    let gap = false;
    for (const entry of entries) {
      const messagesOfRoom = this.roomOf(entry.room);
      const changesOfRoom = this.changesOf(entry.room);
      if ('target' in entry) {
        if (messagesOfRoom.has(entry.seq)) this.conflicts.push([messagesOfRoom.get(entry.seq), entry]);
        changesOfRoom.set(entry.seq, entry);
        const target = messagesOfRoom.get(entry.target);
        if (target) messagesOfRoom.set(entry.target, applied(target, entry));
      } else {
        const seen = messagesOfRoom.get(entry.seq);
        if ((seen && seen.id !== entry.id) || changesOfRoom.has(entry.seq)) this.conflicts.push([seen, entry]);
        // A copy may be older than what is held (a live one after a sync's, or one that a
        // change through another node overtook): the changes taken in bring it up to date.
        let message = entry;
        for (const change of [...changesOfRoom.values()].sort((a, b) => a.seq - b.seq)) {
          if (change.target === entry.seq) message = applied(message, change);
        }
        messagesOfRoom.set(entry.seq, message);
      }
      if (entry.seq > this.cursor(entry.room) + 1) gap = true;
    }
    for (const waiter of this.waiters) {
      if (this.cursor(waiter.room) >= waiter.seq) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (gap) this.sync();
  }

  /** Catches up every room; one sync at a time, another after it if asked meanwhile. */
  sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = (async () => {
      try {
        for (;;) {
          this.syncAgain = false;
          const rooms = [...this.received.keys()].map((room) => ({ room, afterSeq: this.cursor(room) }));
          const reply = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('sync', { rooms });
          if (reply.status !== 'ok') throw new Error(`sync refused: ${reply.error.code}`);
          this.add([...reply.messages, ...(reply.changes ?? [])]);
          if (!reply.more && !this.syncAgain) return;
        }
      } catch {
        // Disconnected or refused: the next welcome (or gap, or head) syncs again.
      } finally {
        this.syncing = null;
      }
    })();
  }

  /** Sends until acknowledged (same clientId each time); resolves with the stored message. */
  async send(text, room = 'general') {
    const clientId = randomUUID();
    for (let attempt = 1; ; attempt += 1) {
      if (this.socket.connected) {
        try {
          const reply = await this.socket
            .timeout(ACK_TIMEOUT_MS)
            .emitWithAck('chatMessage', { text, room, clientId });
          if (reply.status === 'ok') {
            this.acked.set(clientId, reply.message);
            this.add([reply.message]);
            return reply.message;
          }
          if (!TRANSIENT.has(reply.error.code)) throw new Error(`refused: ${reply.error.code}`);
          if (reply.error.code === 'internal') this.internal += 1;
          for (const resolve of this.refusalWaiters.splice(0)) resolve(reply.error.code);
        } catch (error) {
          if (error.message.startsWith('refused')) throw error;
        }
      }
      if (attempt > 100) throw new Error(`${this.name}: "${text}" not acknowledged after 100 attempts`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** `editMessage` (with `text`) or `deleteMessage`; the change made, or throws the refusal. */
  async change(room, seq, text) {
    const [event, payload] = text === undefined
      ? ['deleteMessage', { room, seq }]
      : ['editMessage', { room, seq, text }];
    const reply = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    if (reply.status !== 'ok') throw new Error(`${event} refused: ${reply.error.code}`);
    if (reply.change) this.add([reply.change]);
    return reply.change;
  }

  /** `react` (or, `on` false, `unreact`) with `emoji`; the change made, or throws the refusal. */
  async react(room, seq, emoji, on = true) {
    const event = on ? 'react' : 'unreact';
    const reply = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, { room, seq, emoji });
    if (reply.status !== 'ok') throw new Error(`${event} refused: ${reply.error.code}`);
    if (reply.change) this.add([reply.change]);
    return reply.change;
  }

  /** Resolves at the first welcome after `count` welcomes (a reconnection). */
  welcomedAgain(count) {
    if (this.welcomes > count) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.welcomes <= count) return;
        this.socket.off('welcome', check);
        resolve();
      };
      this.socket.on('welcome', check);
    });
  }

  /** Resolves once connected and welcomed (now, or at the next welcome). */
  connected() {
    return this.socket.connected && this.welcomes > 0 ? Promise.resolve() : this.welcomedAgain(this.welcomes);
  }

  /** Resolves with the code of the next refusal of a send that will be retried. */
  nextRefusal() {
    return new Promise((resolve) => this.refusalWaiters.push(resolve));
  }

  /** Resolves once this member holds `room` complete up to `seq`, or rejects after `ms`. */
  caughtUp(room, seq, ms = 15000) {
    if (this.cursor(room) >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { room, seq, resolve };
      this.waiters.add(waiter);
      setTimeout(() => {
        if (!this.waiters.delete(waiter)) return;
        reject(new Error(`${this.name} has #${room} up to ${this.cursor(room)}, not ${seq}`));
      }, ms);
    });
  }

  close() {
    this.socket.close();
  }
}

/** `message` as `change` leaves it. */
function applied(message, change) {
  switch (change.change) {
    case 'edited': return { ...message, text: change.text, editedAt: change.editedAt };
    case 'deleted': return { ...message, text: '', deleted: change.by, reactions: undefined };
    default: return { ...message, reactions: reacted(message.reactions ?? [], change) };
  }
}

/** `reactions` as a reaction (`reacted` or `unreacted`) leaves them, by the protocol's rule:
 * each person once per emoji, each with their reaction's seq; in seq order, grouped by emoji. */
function reacted(reactions, { change, emoji, user, seq }) {
  const mine = (r) => r.emoji === emoji && r.user.id === user.id;
  let all = reactions.flatMap((r) => r.by.map((by) => ({ emoji: r.emoji, ...by })));
  if (change === 'unreacted') all = all.filter((r) => !mine(r));
  else if (!all.some(mine)) all.push({ emoji, user, seq });
  all.sort((a, b) => a.seq - b.seq);
  const grouped = [];
  for (const r of all) {
    const group = grouped.find((g) => g.emoji === r.emoji);
    if (group) group.by.push({ user: r.user, seq: r.seq });
    else grouped.push({ emoji: r.emoji, by: [{ user: r.user, seq: r.seq }] });
  }
  return grouped.length > 0 ? grouped : undefined;
}
