// The durability audit: five times, the server is killed (SIGKILL) while clients send
// acknowledged messages, then started again on the same data directory; every message it
// acknowledged must be stored exactly once, with its exact text, room and author.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { audit, connect, readRooms, request, sendUntilStopped } from './audit.mjs';
import { CHAT_BIN } from './server.mjs';
import { spawnServer, terminate } from './spawn.mjs';

const KILLS = 5;
const SENDERS = 4;
const ROOMS = ['general', 'audit'];
/** The budget is raised so the senders go as fast as the server stores. */
const ARGS = ['--rate-per-second', '100000', '--rate-burst', '100000'];

test('SIGKILL while clients send: every acknowledged message is stored once, exactly as sent', { timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-durability-'));
  const log = [];
  const start = () => spawnServer({ bin: CHAT_BIN, bind: '127.0.0.1:0', dataDir, args: ARGS, log });
  const acked = new Map();
  const totals = { acked: 0, lost: 0, duplicated: 0 };
  let server = await start();
  try {
    // The senders are stored users (a room of their own needs it), the same people after every
    // restart: their tokens hold across restarts.
    const tokens = [];
    for (let i = 0; i < SENDERS; i += 1) {
      const { socket, welcome } = await connect(server.url, { name: `sender${i}` });
      await request(socket, i === 0 ? 'createRoom' : 'joinRoom', { room: 'audit' });
      tokens.push(welcome.token);
      socket.close();
    }
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const before = new Map(acked);
      // Killed once this many messages were acknowledged since the (re)start: mid-stream, with
      // more in flight, at a different point each time.
      const killAt = 150 + Math.floor(Math.random() * 350);
      const senders = await Promise.all(tokens.map((token) => connect(server.url, { token })));
      const exited = once(server.child, 'exit');
      let ackedNow = 0;
      const sending = senders.map(({ socket }, i) => sendUntilStopped({
        socket,
        name: `sender${i}`,
        rooms: ROOMS,
        acked,
        tag: `k${kill}-`,
        onAck: () => {
          ackedNow += 1;
          if (ackedNow === killAt) server.child.kill('SIGKILL');
        },
      }));
      const [, signal] = await exited;
      assert.equal(signal, 'SIGKILL');
      await Promise.all(sending.map((sender) => sender.stop()));
      senders.forEach(({ socket }) => socket.close());

      server = await start();
      const { socket: reader } = await connect(server.url, { token: tokens[0] });
      const stored = await readRooms(reader, ROOMS);
      reader.close();
      const round = new Map([...acked].filter(([clientId]) => !before.has(clientId)));
      const figures = audit(round, stored);
      const overall = audit(acked, stored);
      assert.equal(overall.lost, 0, 'nothing acknowledged in earlier rounds went missing');
      console.log(`# kill ${kill}: ${figures.acked} acked, ${figures.lost} lost, ${figures.duplicated} duplicated (${stored.length} stored in all)`);
      totals.acked += figures.acked;
      totals.lost += figures.lost;
      totals.duplicated = overall.duplicated;
    }
    console.log(`# durability over ${KILLS} kills: ${totals.acked} acked, ${totals.lost} lost, ${totals.duplicated} duplicated`);
    assert.deepEqual({ lost: totals.lost, duplicated: totals.duplicated }, { lost: 0, duplicated: 0 });
  } finally {
    await terminate(server.child, 5000);
    await rm(dataDir, { recursive: true, force: true });
  }
});
