// What the durability and backup tests share: senders that keep a few acknowledged messages in
// flight and remember every one the server acknowledged, reading rooms back from storage with
// `sync`, and the check that every acknowledged message is stored exactly once, as it was sent.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { io } from 'socket.io-client';

/** Messages each sender keeps unacknowledged at once. */
const IN_FLIGHT = 4;
const ACK_TIMEOUT_MS = 5000;

/** A welcomed socket.io-client connection presenting `auth` ({ name } or { token }). */
export async function connect(url, auth) {
  const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  const [welcome] = await Promise.race([
    once(socket, 'welcome'),
    once(socket, 'connect_error').then(([error]) => { throw error; }),
  ]);
  return { socket, welcome };
}

/** Emits `event` and resolves with the acknowledgement, which must be `ok`. */
export async function request(socket, event, payload) {
  const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  assert.equal(ack.status, 'ok', `${event}: ${JSON.stringify(ack)}`);
  return ack;
}

/**
 * Sends numbered messages from `socket` (as `name`), alternating over `rooms`, with a unique
 * clientId each, until `stop()` is called; every acknowledged one goes into `acked` (clientId ->
 * { room, text, author, seq }) and `onAck` is called after it. Resolves once stopped and no
 * acknowledgement is awaited any more (those lost with the connection count as not acked).
 */
export function sendUntilStopped({ socket, name, rooms, acked, onAck = () => {}, tag = '' }) {
  let stopped = false;
  const inFlight = new Set();
  let n = 0;
  const sending = (async () => {
    while (!stopped && socket.connected) {
      const room = rooms[n % rooms.length];
      const clientId = `${name}-${tag}${n}`;
      const text = `${name} ${tag}#${n} in ${room}`;
      n += 1;
      const sent = socket
        .timeout(ACK_TIMEOUT_MS)
        .emitWithAck('chatMessage', { room, text, clientId })
        .then((ack) => {
          if (ack.status !== 'ok') return;
          const { message } = ack;
          assert.equal(message.text, text);
          assert.equal(message.room, room);
          acked.set(clientId, { room, text, author: message.author.id, seq: message.seq });
          onAck();
        }, () => {}); // no answer: the server went away before acknowledging it
      inFlight.add(sent);
      sent.finally(() => inFlight.delete(sent));
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  return {
    async stop() {
      stopped = true;
      await sending;
    },
  };
}

/** Every stored message of `rooms` (each room from seq 1), read with `sync` by `socket`. */
export async function readRooms(socket, rooms) {
  const cursors = new Map(rooms.map((room) => [room, 0]));
  const messages = [];
  for (;;) {
    const { messages: page, more } = await request(socket, 'sync', {
      rooms: [...cursors].map(([room, afterSeq]) => ({ room, afterSeq })),
    });
    for (const message of page) {
      messages.push(message);
      cursors.set(message.room, Math.max(cursors.get(message.room), message.seq));
    }
    if (!more) return messages;
  }
}

/**
 * How the acknowledged messages (clientId -> what was acked) fare in `stored`: `lost` were not
 * found; `duplicated` counts the messages, acknowledged or not, stored more than once (by author
 * and clientId). A message found must have its text, room and author exactly (an assertion).
 */
export function audit(acked, stored) {
  const byClientId = new Map();
  for (const message of stored) {
    const key = `${message.author.id}/${message.clientId}`;
    byClientId.set(key, [...(byClientId.get(key) ?? []), message]);
  }
  let lost = 0;
  const duplicated = [...byClientId.values()].filter((copies) => copies.length > 1).length;
  for (const [clientId, sent] of acked) {
    const found = byClientId.get(`${sent.author}/${clientId}`) ?? [];
    if (found.length === 0) lost += 1;
    for (const message of found) {
      assert.equal(message.text, sent.text, clientId);
      assert.equal(message.room, sent.room, clientId);
      assert.equal(message.author.id, sent.author, clientId);
    }
  }
  return { acked: acked.size, lost, duplicated };
}
