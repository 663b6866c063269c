// Three nodes on PostgreSQL and Redis behind nginx (deploy/nginx.conf), on loopback: chatting
// across nodes, and what must hold when a node, Redis or PostgreSQL goes away. Each test starts
// its own cluster (own database, own Redis prefix) and stops everything it started.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, test } from 'node:test';
import { clientOptions, freePort, startCluster } from './cluster.mjs';
import { Member } from './member.mjs';
import { expectOnce, launchChromium, openChat, send } from './page.mjs';
import { startProxy } from './proxy.mjs';

// What a test started, stopped after it (pass or fail), so no test shares the cores with the
// clusters of the tests before it.
const started = [];
afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop();
});

async function cluster(options) {
  const c = await startCluster(options);
  started.push(() => c.stop());
  return c;
}

/** `n` members through nginx, each from its own loopback address (so spread over the nodes). */
async function members(url, n, prefix = 'm') {
  const all = [];
  for (let i = 0; i < n; i += 1) {
    all.push(new Member(url, `${prefix}${i}`, { transports: ['websocket'], ...clientOptions(i + 1) }));
  }
  await Promise.all(all.map((m) => m.welcomed));
  started.push(async () => all.forEach((m) => m.close()));
  return all;
}

/** Resolves once the cluster's presence board lists `n` nodes; polls Redis (nothing is sent when a node is taken over with nobody leaving). */
async function boardNodes(c, n, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const out = execFileSync('redis-cli', ['-u', c.redisUrl, 'SCARD', `${c.redisPrefix}:presence:nodes`]);
    if (Number(out.toString().trim()) === n) return;
    if (Date.now() > deadline) throw new Error(`the board still lists ${out.toString().trim()} nodes`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** `GET /readyz` of `node` until it answers `status` (polled: nothing else tells); its body. */
async function readiness(node, status, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const response = await fetch(`${node.url}/readyz`);
    const body = await response.json();
    if (response.status === status) return body;
    if (Date.now() > deadline) throw new Error(`/readyz still answers ${response.status}: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** How many WebSockets nginx holds open to `node`: its established connections. */
function connectionsTo(node) {
  const port = new URL(node.url).port;
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`]);
  return out.toString().split('\n').filter(Boolean).length;
}

/** Resolves once `n` of `all` were welcomed again since `before` (their welcome counts). */
function reconnected(all, before, n) {
  return new Promise((resolve) => {
    const check = () => {
      if (all.filter((m, i) => m.welcomes > before[i]).length < n) return;
      all.forEach((m) => m.socket.off('welcome', check));
      resolve();
    };
    all.forEach((m) => m.socket.on('welcome', check));
    check();
  });
}

/**
 * What must hold at the end: each member holds every message of general once, with no gap, in
 * one order (seq), the same as the store; every acknowledged message is stored exactly once.
 */
async function assertComplete(c, all) {
  const stored = await c.query(
    "SELECT count(*) AS n, count(DISTINCT client_id) AS ids, max(seq) AS last FROM messages WHERE room = 'general'",
  );
  const last = Number(stored.last);
  const acked = all.flatMap((m) => [...m.acked.values()]);
  assert.equal(Number(stored.n), last, 'gap-free: as many messages as the last seq');
  assert.equal(Number(stored.ids), Number(stored.n), 'no client id stored twice');
  assert.equal(new Set(acked.map((m) => m.clientId)).size, acked.length);
  for (const member of all) await member.caughtUp('general', last);
  const reference = [...all[0].received.get('general').values()].sort((a, b) => a.seq - b.seq);
  assert.equal(reference.length, last);
  const ackedIds = new Set(acked.map((m) => m.id));
  assert.equal(reference.filter((m) => ackedIds.has(m.id)).length, acked.length, 'every acked message was delivered');
  for (const member of all) {
    assert.deepEqual(member.conflicts, [], `${member.name}: no seq shown with two messages`);
    assert.equal(member.internal, 0, `${member.name}: no send refused as \`internal\``);
    const mine = [...member.received.get('general').values()].sort((a, b) => a.seq - b.seq);
    assert.deepEqual(mine.map((m) => m.id), reference.map((m) => m.id), `${member.name}: one order`);
  }
  return { stored: last, acked: acked.length };
}

/**
 * Every member sends messages one after another, `PACE_MS` apart, from before `during` starts
 * until `after` more once it is over; resolves with how long `during` took.
 */
const PACE_MS = 20;
async function underLoad(all, during, after = 5) {
  let over = false;
  const sending = Promise.all(all.map(async (member) => {
    let i = 0;
    const next = () => member.send(`${member.name} #${i++}`);
    while (!over) {
      await next();
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
    for (let k = 0; k < after; k += 1) await next();
  }));
  const start = Date.now();
  try {
    await during();
  } finally {
    over = true;
  }
  const took = Date.now() - start;
  await sending;
  return took;
}

test('clients on different nodes chat: every message reaches every member once, in one order', async () => {
  const c = await cluster();
  // Two members straight on each node, so that every node has clients whatever nginx picks.
  const all = [];
  for (const node of c.nodes) {
    for (let i = 0; i < 2; i += 1) all.push(new Member(node.url, `n${all.length}`, { transports: ['websocket'] }));
  }
  await Promise.all(all.map((m) => m.welcomed));
  started.push(async () => all.forEach((m) => m.close()));
  await underLoad(all, () => all[0].caughtUp('general', 100));
  const { stored, acked } = await assertComplete(c, all);
  assert.equal(stored, acked);
  console.log(`# across 3 nodes: ${acked} messages, each shown once to each of 6 members, one order`);
});

test('edits, deletions and reactions reach members on every node, live and caught up, to one final state', async () => {
  const c = await cluster();
  const all = [];
  for (const node of c.nodes) {
    for (let i = 0; i < 2; i += 1) all.push(new Member(node.url, `e${all.length}`, { transports: ['websocket'] }));
  }
  await Promise.all(all.map((m) => m.welcomed));
  started.push(async () => all.forEach((m) => m.close()));
  // Everyone holds the writers' first messages; then one member is away while the others edit
  // them, react to each other's, write, and delete at once, through all three nodes.
  const [away, writers] = [all[5], all.slice(0, 5)];
  const firsts = await Promise.all(writers.map((member) => member.send(`${member.name} one`)));
  await away.caughtUp('general', Math.max(...firsts.map((m) => m.seq)));
  away.socket.disconnect();
  await Promise.all(writers.map(async (member, i) => {
    await member.change('general', firsts[i].seq, `${member.name} one, edited`);
    const next = firsts[(i + 1) % firsts.length].seq;
    await member.react('general', next, '👍');
    await member.react('general', next, '🎉');
    await member.react('general', next, '🎉', false);
    const second = await member.send(`${member.name} two`);
    await member.react('general', second.seq, '👀');
    await member.change('general', second.seq);
    await member.send(`${member.name} three`);
  }));
  // Someone else's message is not theirs to edit or delete: refused, nothing changes.
  await assert.rejects(writers[0].change('general', firsts[1].seq, 'not mine'), /forbidden/);
  await assert.rejects(writers[0].change('general', firsts[1].seq), /forbidden/);
  const { last } = await c.query("SELECT max(last_seq) AS last FROM rooms WHERE name = 'general'");
  away.socket.connect();
  for (const member of all) await member.caughtUp('general', Number(last));
  const { messages } = await c.query(
    "SELECT json_agg(m ORDER BY seq) AS messages FROM (SELECT seq, text, edited_at, deleted_by FROM messages WHERE room = 'general') m",
  );
  assert.equal(messages.filter((m) => m.deleted_by === 'author').length, writers.length);
  assert.equal(messages.filter((m) => m.edited_at !== null).length, writers.length);
  const { reactions } = await c.query(
    "SELECT json_agg(r ORDER BY seq) AS reactions FROM (SELECT target, emoji, user_id, seq FROM reactions WHERE room = 'general') r",
  );
  assert.equal(reactions.length, writers.length, 'a 👍 on each first message, the 👀 gone with their deletion');
  const reactionsOf = (seq) => reactions.filter((r) => r.target === seq).map((r) => [r.emoji, r.user_id, Number(r.seq)]);
  const stored = messages.map((m) => [m.seq, m.text, m.edited_at ?? undefined, m.deleted_by ?? undefined, reactionsOf(m.seq)]);
  const heldReactions = (m) => (m.reactions ?? [])
    .flatMap((r) => r.by.map((by) => [r.emoji, by.user.id, by.seq]))
    .sort((a, b) => a[2] - b[2]);
  for (const member of all) {
    assert.deepEqual(member.conflicts, [], `${member.name}: no seq taken twice`);
    const held = [...member.received.get('general').values()].sort((a, b) => a.seq - b.seq);
    assert.deepEqual(held.map((m) => [m.seq, m.text, m.editedAt, m.deleted, heldReactions(m)]), stored, `${member.name}: as stored`);
  }
  console.log(`# across 3 nodes: ${messages.length} messages and ${Number(last) - messages.length} changes, the same final state for 6 members, one of them away meanwhile`);
});

// nginx spreads clients by a hash of their address over nodes on random ports, so which nodes
// have clients varies: the victim is the first (or last) node that has some.
for (const which of ['first', 'last']) {
  test(`a node killed (SIGKILL, the ${which} with clients) loses nothing acknowledged, shows nothing twice`, async () => {
    const c = await cluster();
    const all = await members(c.url, 9);
    const counts = c.nodes.map(connectionsTo);
    const order = which === 'first' ? [0, 1, 2] : [2, 1, 0];
    const victim = order.find((i) => counts[i] > 0);
    assert.notEqual(victim, undefined, 'some node has clients');
    const onVictim = counts[victim];
    let back;
    await underLoad(all, async () => {
      await all[0].caughtUp('general', 100, 30000);
      const before = all.map((m) => m.welcomes);
      const killedAt = Date.now();
      await c.nodes[victim].kill('SIGKILL');
      // Load goes on until every client of the dead node is back (on another node).
      await reconnected(all, before, onVictim);
      back = Date.now() - killedAt;
    });
    const { stored, acked } = await assertComplete(c, all);
    assert.equal(stored, acked);
    console.log(`# node${victim + 1} killed with ${onVictim} of 9 clients: all back in ${back} ms; ${acked} acked, ${stored} stored, 0 lost, 0 twice`);
  });
}

test('a rolling restart (SIGTERM, start again, node by node) under load loses and repeats nothing', async () => {
  const c = await cluster();
  const all = await members(c.url, 9);
  const took = await underLoad(all, async () => {
    await all[0].caughtUp('general', 100, 30000);
    for (const node of c.nodes) {
      assert.equal(await node.stop(), 0, `${node.name} stops gracefully`);
      await node.start();
      // The next node goes only once everyone is connected again.
      await Promise.all(all.map((m) => m.connected()));
    }
  });
  const { stored, acked } = await assertComplete(c, all);
  assert.equal(stored, acked);
  console.log(`# rolling restart of 3 nodes under load took ${took} ms: ${acked} acked, ${stored} stored, 0 lost, 0 twice`);
});

/** A redis-server of the test's own on a free port, that it can stop and start again. */
async function ownRedis() {
  const port = await freePort();
  let child;
  const redis = {
    url: `redis://127.0.0.1:${port}/`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      await new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
        child.stdout.on('data', (data) => {
          out += data;
          if (out.includes('Ready to accept connections')) resolve();
        });
      });
    },
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
  await redis.start();
  started.push(() => redis.stop());
  return redis;
}

test('Redis restarted: fan-out recovers by itself, and what was sent meanwhile arrives within 5 s', async () => {
  const redis = await ownRedis();
  const c = await cluster({ redisUrl: redis.url });
  const alice = new Member(c.nodes[0].url, 'alice', { transports: ['websocket'] });
  const bob = new Member(c.nodes[1].url, 'bob', { transports: ['websocket'] });
  started.push(async () => { alice.close(); bob.close(); });
  await Promise.all([alice.welcomed, bob.welcomed]);
  const before = await alice.send('before');
  await bob.caughtUp('general', before.seq, 5000);

  assert.deepEqual(await readiness(c.nodes[0], 200), { status: 'ready' });
  await redis.stop();
  assert.deepEqual(await readiness(c.nodes[0], 503), { status: 'unready', reasons: ['Redis is unreachable'] });
  // Stored and acknowledged while the fan-out is down; the room stays quiet afterwards.
  const during = [];
  for (let i = 0; i < 3; i += 1) during.push(await alice.send(`during ${i}`));
  await redis.start();
  const back = Date.now();
  await bob.caughtUp('general', during.at(-1).seq, 5000);
  const recovered = Date.now() - back;
  console.log(`# Redis back: the messages sent while it was down reached the other node in ${recovered} ms`);

  assert.deepEqual(await readiness(c.nodes[0], 200), { status: 'ready' });
  // Live fan-out works again, without restarting a node.
  const after = await bob.send('after');
  await alice.caughtUp('general', after.seq, 5000);
  await assertComplete(c, [alice, bob]);
});

test('PostgreSQL unavailable: sends are refused with `unavailable`, nothing unstored is acked, the nodes recover', async () => {
  const proxy = await startProxy({ host: '127.0.0.1', port: 5432 });
  started.push(() => proxy.close());
  const c = await cluster({ databasePort: proxy.port });
  const alice = new Member(c.nodes[0].url, 'alice', { transports: ['websocket'] });
  const bob = new Member(c.nodes[1].url, 'bob', { transports: ['websocket'] });
  started.push(async () => { alice.close(); bob.close(); });
  await Promise.all([alice.welcomed, bob.welcomed]);
  await alice.send('before');

  proxy.cut();
  const refused = await alice.socket
    .timeout(10000)
    .emitWithAck('chatMessage', { text: 'while down', clientId: 'down-1' });
  assert.equal(refused.status, 'error');
  assert.equal(refused.error.code, 'unavailable');
  const unready = await readiness(c.nodes[0], 503);
  assert.equal(unready.status, 'unready');
  assert.match(unready.reasons.join(), /the store did not answer in time|the store does not answer/);

  // A member retries by itself (same clientId) until the database is back.
  const refusal = bob.nextRefusal();
  const sending = bob.send('retried until stored');
  assert.equal(await refusal, 'unavailable');
  proxy.restore();
  const back = Date.now();
  const stored = await sending;
  console.log(`# PostgreSQL back: the retried message was stored ${Date.now() - back} ms later`);
  assert.deepEqual(await readiness(c.nodes[0], 200), { status: 'ready' });
  await alice.caughtUp('general', stored.seq, 5000);
  const { acked } = await assertComplete(c, [alice, bob]);
  assert.equal(acked, 2);
  const [{ n }] = [await c.query("SELECT count(*) AS n FROM messages WHERE client_id = 'down-1'")];
  assert.equal(Number(n), 0, 'the refused message was not stored');

  // In the page: "Not sent" while the database is away, then sent by itself, once.
  const browser = await launchChromium();
  started.push(() => browser.close());
  const { page, problems } = await openChat(browser, { base: c.nodes[2].url, name: 'Carol' });
  proxy.cut();
  await send(page, 'typed while the database is away');
  await page.locator('.message.failed .delivery', { hasText: /^Not sent: .*Trying again/ }).waitFor();
  proxy.restore();
  await page.locator('.message.failed').waitFor({ state: 'detached' });
  await expectOnce(page, 'typed while the database is away');
  // A history page asked for while the database was away is answered 503 (`unavailable`).
  assert.deepEqual(problems.filter((p) => !p.includes('status of 503')), []);
});

test('a direct conversation across nodes: opened on one, told on another, the same from either side, read by its two only', async () => {
  const c = await cluster();
  const [ada, bob, eve] = c.nodes.map((node, i) => new Member(node.url, `d${i}`, { transports: ['websocket'] }));
  await Promise.all([ada, bob, eve].map((m) => m.welcomed));
  started.push(async () => [ada, bob, eve].forEach((m) => m.close()));
  const request = async (member, event, payload) => member.socket.timeout(5000).emitWithAck(event, payload);
  const told = once(bob.socket, 'invited');
  const opened = await request(ada, 'openDirect', { with: [bob.user.id] });
  assert.equal(opened.status, 'ok', JSON.stringify(opened));
  const { room } = opened;
  const [invited] = await told;
  assert.deepEqual([invited.room.name, invited.by.id], [room.name, ada.user.id]);
  const sent = await ada.send('across the nodes, just us', room.name);
  await bob.caughtUp(room.name, sent.seq);
  assert.equal(bob.received.get(room.name).get(sent.seq).text, 'across the nodes, just us');
  const again = await request(bob, 'openDirect', { with: [ada.user.id] });
  assert.equal(again.room.name, room.name, 'one conversation, whoever opens it, on any node');
  for (const [event, payload] of [
    ['sync', { rooms: [{ room: room.name, afterSeq: 0 }] }],
    ['joinRoom', { room: room.name }],
  ]) {
    const refused = await request(eve, event, payload);
    assert.equal(refused.status, 'error', `${event}: ${JSON.stringify(refused)}`);
  }
  assert.equal(eve.received.has(room.name), false, 'nothing of it reached the third node\'s member');
});

test('presence and typing cross nodes; a killed node\'s users go offline within 30 s', async () => {
  const c = await cluster();
  const alice = new Member(c.nodes[0].url, 'alice', { transports: ['websocket'] });
  await alice.welcomed;
  const told = (check) => new Promise((resolve) => {
    const look = (change) => { if (check(change)) { alice.socket.off('presence', look); resolve(change); } };
    alice.socket.on('presence', look);
  });
  const named = (users, name) => users.some((user) => user.name === name);

  // Bob on node 2, with two tabs: one there and one on node 3. No reconnection: a killed node's
  // users must leave by the board, not by coming back.
  const bobJoins = told((change) => named(change.joined, 'bob'));
  const bob = new Member(c.nodes[1].url, 'bob', { transports: ['websocket'], reconnection: false });
  await bob.welcomed;
  await bobJoins;
  const bobTab = new Member(c.nodes[2].url, 'bob', {
    transports: ['websocket'],
    reconnection: false,
    auth: { token: bob.socket.auth.token },
  });
  started.push(async () => [alice, bob, bobTab].forEach((m) => m.close()));
  await bobTab.welcomed;
  const members = await alice.socket.timeout(5000).emitWithAck('members', { room: 'general' });
  assert.deepEqual(members.members.map((m) => m.name).sort(), ['alice', 'bob']);

  const typing = once(alice.socket, 'typing');
  bob.socket.emit('typing', { room: 'general' });
  const [{ user }] = await typing;
  assert.equal(user.name, 'bob');

  // Node 2 dies with bob's first tab: bob is still online through node 3.
  await c.nodes[1].kill('SIGKILL');
  const bobLeaves = told((change) => named(change.left, 'bob'));
  let left = false;
  bobLeaves.then(() => { left = true; });
  // Until a surviving node has taken node 2 over (its place on the board expires after 15 s):
  // the board then lists two nodes.
  const killed = Date.now();
  await boardNodes(c, 2, 30000);
  const takenOver = Date.now() - killed;
  const after = await alice.socket.timeout(5000).emitWithAck('members', { room: 'general' });
  assert.deepEqual(after.members.map((m) => m.name).sort(), ['alice', 'bob']);
  assert.equal(left, false, 'bob stays online while one of his tabs is');

  // Now node 3 dies too: bob leaves within 30 s, told by the surviving node.
  await c.nodes[2].kill('SIGKILL');
  const second = Date.now();
  await Promise.race([
    bobLeaves,
    new Promise((_, reject) => setTimeout(() => reject(new Error('bob still online after 30 s')), 30000)),
  ]);
  console.log(`# a killed node was taken over ${takenOver} ms after the kill; a user only it held went offline ${Date.now() - second} ms after a kill`);
  const last = await alice.socket.timeout(5000).emitWithAck('members', { room: 'general' });
  assert.deepEqual(last.members.map((m) => m.name), ['alice']);
});
