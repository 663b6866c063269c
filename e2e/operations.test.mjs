// The release binary as an operator runs it: `chat backup` while clients send, restored into a
// new data directory; metrics on their own address; JSON logs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, test } from 'node:test';
import { audit, connect, readRooms, request, sendUntilStopped } from './audit.mjs';
import { CHAT_BIN } from './server.mjs';
import { spawnServer, terminate } from './spawn.mjs';

const run = promisify(execFile);
const ARGS = ['--rate-per-second', '100000', '--rate-burst', '100000'];

// What a test started, stopped after it (pass or fail).
const started = [];
afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop();
});

async function tempDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  started.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(dataDir, args = ARGS) {
  const log = [];
  const watchers = new Set();
  const onLine = (line) => watchers.forEach((watch) => watch(line));
  const server = await spawnServer({ bin: CHAT_BIN, bind: '127.0.0.1:0', dataDir, args, log, onLine });
  started.push(() => terminate(server.child, 5000));
  /** The first log line matching `pattern`, once it is written. */
  const line = (pattern) => new Promise((resolve) => {
    const watch = (written) => {
      if (!pattern.test(written)) return;
      watchers.delete(watch);
      resolve(written);
    };
    watchers.add(watch);
    log.forEach(watch);
  });
  return { ...server, log, line };
}

/** `chat backup FILE` for `dataDir`; resolves with { code, stdout, stderr }. */
async function backup(dataDir, file, more = []) {
  try {
    const { stdout, stderr } = await run(CHAT_BIN, ['backup', file, '--data-dir', dataDir, ...more]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    return { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
}

test('chat backup while clients send: restored into a new data directory, every message acked before it is there once', { timeout: 60_000 }, async () => {
  const dataDir = await tempDir('chat-backup-');
  const server = await start(dataDir);
  const rooms = ['general', 'backup'];
  const senders = [];
  for (let i = 0; i < 3; i += 1) {
    const { socket, welcome } = await connect(server.url, { name: `sender${i}` });
    started.push(async () => socket.close());
    await request(socket, i === 0 ? 'createRoom' : 'joinRoom', { room: 'backup' });
    senders.push({ socket, token: welcome.token, name: `sender${i}` });
  }
  const acked = new Map();
  let ackedSoFar = 0;
  let enough;
  const warmedUp = new Promise((resolve) => { enough = resolve; });
  const sending = senders.map(({ socket, name }) => sendUntilStopped({
    socket,
    name,
    rooms,
    acked,
    onAck: () => {
      ackedSoFar += 1;
      if (ackedSoFar === 300) enough();
    },
  }));
  await warmedUp;
  const ackedBefore = new Map(acked);
  const file = join(await tempDir('chat-backup-file-'), 'copy.db');
  const copied = await backup(dataDir, file);
  const ackedDuring = acked.size - ackedBefore.size;
  await Promise.all(sending.map((sender) => sender.stop()));
  assert.equal(copied.code, 0, copied.stderr);
  assert.match(copied.stdout, /copied to .*copy\.db/);
  assert.ok(ackedDuring > 0, 'clients were still sending while the copy was made');

  // The copy is never overwritten, and PostgreSQL is pg_dump's job.
  const again = await backup(dataDir, file);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already exists/);
  const postgres = await backup(dataDir, join(tmpdir(), 'never.db'), ['--database-url', 'postgres://127.0.0.1:1/none']);
  assert.notEqual(postgres.code, 0);
  assert.match(postgres.stderr, /pg_dump/);

  // Restored: the copy is the database of a new data directory.
  const restoredDir = await tempDir('chat-restored-');
  await mkdir(restoredDir, { recursive: true });
  await copyFile(file, join(restoredDir, 'chat.db'));
  const restored = await start(restoredDir);
  const { socket: reader } = await connect(restored.url, { token: senders[0].token });
  started.push(async () => reader.close());
  const stored = await readRooms(reader, rooms);
  const figures = audit(ackedBefore, stored);
  console.log(`# backup: ${figures.acked} acked before it, ${figures.lost} lost, ${figures.duplicated} duplicated; ${stored.length} in the copy, ${ackedDuring} acked while it was made`);
  assert.deepEqual(figures, { acked: ackedBefore.size, lost: 0, duplicated: 0 });
});

test('metrics on their own address only, and JSON log lines', { timeout: 30_000 }, async () => {
  const dataDir = await tempDir('chat-metrics-');
  const server = await start(dataDir, ['--metrics-bind', '127.0.0.1:0', '--log-format', 'json']);
  const lines = server.log.map((line) => JSON.parse(line));
  assert.ok(lines.every((line) => line.level && line.timestamp), server.log.join('\n'));
  const announced = lines.map((line) => line.fields?.message?.match(/^metrics on (http:\S+)/)).find(Boolean);
  assert.ok(announced, server.log.join('\n'));

  const { socket, welcome } = await connect(server.url, { name: 'watched' });
  started.push(async () => socket.close());
  await request(socket, 'chatMessage', { text: 'counted', clientId: 'c-1' });
  const metrics = await fetch(announced[1]);
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  assert.match(text, /^chat_messages_stored_total 1$/m);
  assert.match(text, /^chat_connections\{transport="websocket"\} 1$/m);
  // Not on the public address: there the path is the page's, like any other.
  const publicMetrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.doesNotMatch(publicMetrics, /chat_messages_stored_total/);

  // The connection's log line names the user, never the session token.
  const connected = await server.line(/client connected/);
  assert.equal(JSON.parse(connected).fields.user, welcome.user.id);
  assert.ok(server.log.every((line) => !line.includes(welcome.token)));
});
