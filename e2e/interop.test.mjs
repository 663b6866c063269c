// The official socket.io-client (Node) against the Rust server: both payload forms, both
// transports, acknowledgements and refusals.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import { startServer } from './server.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { assert.equal(await server.stop(), 0, 'graceful shutdown exits 0'); });

/** A connected client that has been welcomed. */
async function connect(transports = ['websocket']) {
  const socket = io(server.url, { transports, reconnection: false, forceNew: true });
  const [welcome] = await once(socket, 'welcome');
  assert.match(welcome.user.name, /\S/);
  return socket;
}

test('a bare string reaches every client, the sender included', async () => {
  const alice = await connect();
  const bob = await connect(['polling']);
  const received = Promise.all([once(alice, 'chatMessage'), once(bob, 'chatMessage')]);
  alice.emit('chatMessage', 'hello from node');
  const [[toAlice], [toBob]] = await received;
  assert.equal(toAlice.text, 'hello from node');
  assert.deepEqual(toAlice, toBob);
  assert.equal(typeof toAlice.id, 'string');
  assert.equal(typeof toAlice.sentAt, 'number');
  alice.close();
  bob.close();
});

test('an object with an ack gets the stamped message back', async () => {
  const alice = await connect(['polling', 'websocket']);
  const ack = await alice.timeout(5000).emitWithAck('chatMessage', { text: 'with ack', clientId: 'n-1' });
  assert.equal(ack.status, 'ok');
  assert.equal(ack.message.text, 'with ack');
  assert.equal(ack.message.clientId, 'n-1');
  alice.close();
});

test('invalid payloads are refused with a code, by ack or by chatError event', async () => {
  const alice = await connect();
  const refused = await alice.timeout(5000).emitWithAck('chatMessage', { text: '   ' });
  assert.deepEqual(refused.status, 'error');
  assert.equal(refused.error.code, 'empty_message');

  const event = once(alice, 'chatError');
  alice.emit('chatMessage', 12345);
  const [error] = await event;
  assert.equal(error.code, 'invalid_payload');

  // Still connected and chatting.
  const ok = await alice.timeout(5000).emitWithAck('chatMessage', 'still here');
  assert.equal(ok.status, 'ok');
  alice.close();
});
