// A chat cluster on this machine: N `chat` nodes sharing a fresh PostgreSQL database and a fresh
// Redis prefix, behind nginx configured by the shipped deploy/nginx.conf (only its listen
// address and upstream servers are changed), so the tests prove that file works.
//
// Tests: `const cluster = await startCluster(); after(() => cluster.stop());`. Whatever a test
// leaves running is stopped when the process ends, by a signal too.
// By hand: `node e2e/cluster.mjs` (what `cargo xtask cluster` runs) starts three nodes and
// waits for Ctrl-C. For programs (`cargo xtask bench`): `node e2e/cluster.mjs --json [--nodes N]
// [-- NODE FLAGS...]` prints one line, `{"url":nginx,"nodes":[urls],"pids":[node pids]}`, once
// the cluster is ready, and nothing else on stdout; SIGTERM stops it and cleans up.
//
// Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, a database `test` to connect
// to), Redis on 127.0.0.1:6379, `psql`, `redis-cli`, and Debian's nginx (`cargo xtask setup
// --tests` installs it).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { spawnServer, terminate } from './spawn.mjs';

const NGINX = '/usr/sbin/nginx';
const NGINX_CONF = fileURLToPath(new URL('../deploy/nginx.conf', import.meta.url));
/** psql on the machine's PostgreSQL, in `database`. */
const psqlArgs = (database) => [
  '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-d', database,
];
const REDIS_URL = 'redis://127.0.0.1:6379/';
/** How long a node or nginx has to stop after SIGTERM before it is killed. */
const STOP_DEADLINE_MS = 15_000;
const READY_DEADLINE_MS = 10_000;

const run = promisify(execFile);

/**
 * socket.io-client options for test client `n` (0, 1, 2...): it connects from its own loopback
 * address (127.0.0.1, 127.0.0.2, ...), so nginx's `hash $remote_addr` spreads clients over the
 * nodes. engine.io-client hands `localAddress` to the WebSocket transport (the `ws` package)
 * but not to long-polling, whose requests go through `agent`.
 */
export function clientOptions(n) {
  const localAddress = `127.0.${Math.floor(n / 254)}.${(n % 254) + 1}`;
  return { localAddress, agent: new http.Agent({ localAddress }) };
}

/**
 * Starts `nodes` chat nodes and nginx in front of them; resolves once nginx answers.
 * `args`: more flags for every node. `redisUrl`: another Redis (a fault test's own server).
 * `databasePort`: the port the nodes reach PostgreSQL on (a fault test's proxy in front of
 * 5432); the harness itself always uses 5432. `echo`: print the nodes' log lines, prefixed
 * with their names.
 */
export async function startCluster({
  nodes = 3,
  bin = process.env.CHAT_BIN,
  args = [],
  redisUrl = REDIS_URL,
  databasePort = 5432,
  echo = false,
} = {}) {
  if (!bin) throw new Error('CHAT_BIN is not set: run the tests with `cargo xtask test`');
  try {
    accessSync(NGINX, fsConstants.X_OK);
  } catch {
    throw new Error(`${NGINX} is missing: run \`cargo xtask setup --tests\` (installs Debian's nginx)`);
  }
  const id = randomBytes(6).toString('hex');
  const cluster = new Cluster({
    database: `chat_test_${id}`,
    databasePort,
    redisUrl,
    redisPrefix: `chat-test-${id}`,
    dir: await mkdtemp(join(tmpdir(), 'chat-cluster-')),
  });
  live.add(cluster);
  watchProcess();
  try {
    await psql(`CREATE DATABASE ${cluster.database}`);
    cluster.dbCreated = true;
    const shared = [
      '--database-url', cluster.dbUrl,
      '--redis-url', redisUrl,
      '--redis-prefix', cluster.redisPrefix,
      '--max-connections-per-ip', '0',
    ];
    for (let i = 1; i <= nodes; i += 1) {
      cluster.nodes.push(new Node({ name: `node${i}`, bin, args: [...shared, ...args], echo }));
    }
    // All at once, as a cluster restarted together would: migrations must cope. Every start
    // is settled before a failure is reported, so the clean-up finds each node that came up.
    const starts = await Promise.allSettled(cluster.nodes.map((node) => node.start()));
    const failed = starts.find((start) => start.status === 'rejected');
    if (failed) throw failed.reason;
    await cluster.startNginx();
    return cluster;
  } catch (error) {
    await cluster.stop().catch((cleanup) => console.error(`cluster clean-up: ${cleanup.message}`));
    throw error;
  }
}

/** One `chat` process; `start()` again after a stop or kill binds the same port. */
class Node {
  /** The lines it printed, in every run. */
  log = [];
  /** `http://127.0.0.1:PORT`, fixed by the first start. */
  url = undefined;
  child = undefined;
  dataDir = undefined;

  constructor({ name, bin, args, echo }) {
    this.name = name;
    this.bin = bin;
    this.args = args;
    this.onLine = echo ? (line) => console.log(`${name} | ${line}`) : undefined;
  }

  get pid() {
    return this.child?.pid;
  }

  get running() {
    return this.child !== undefined && !hasExited(this.child);
  }

  /** Starts the node (again: on the same port, with the same flags); resolves once it listens. */
  async start() {
    if (this.running) throw new Error(`${this.name} is already running`);
    // Unused beside --database-url, but the flag is always given.
    this.dataDir ??= await mkdtemp(join(tmpdir(), `chat-${this.name}-`));
    const { child, url } = await spawnServer({
      bin: this.bin,
      bind: this.url ? new URL(this.url).host : '127.0.0.1:0',
      dataDir: this.dataDir,
      args: this.args,
      log: this.log,
      onLine: this.onLine,
    });
    this.child = child;
    this.url = url;
    // A node alone does not keep the test process alive: when nothing else is left, the
    // process ends and the clean-up stops the cluster.
    child.unref();
    child.stdout.unref();
  }

  /**
   * Sends `signal`. For a signal that ends the process, resolves with `{ code, signal }` once
   * it has exited; for SIGSTOP and SIGCONT (a hung node, and back), at once.
   */
  kill(signal = 'SIGKILL') {
    const child = this.child;
    if (!child || hasExited(child)) return Promise.resolve(exitOf(child));
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      child.kill(signal);
      return Promise.resolve(undefined);
    }
    child.ref();
    child.kill(signal);
    return exited(child);
  }

  /** SIGTERM (after SIGCONT, in case it was stopped); resolves with the exit code, 0 when graceful. */
  async stop() {
    const child = this.child;
    if (!child) return undefined;
    if (hasExited(child)) return child.exitCode;
    child.ref();
    child.kill('SIGCONT');
    return terminate(child, STOP_DEADLINE_MS);
  }
}

/** Clusters started and not yet stopped, for the clean-up when the process ends. */
const live = new Set();

class Cluster {
  /** @type {Node[]} */
  nodes = [];
  /** nginx's address, `http://127.0.0.1:PORT`. */
  url = undefined;
  dbCreated = false;
  nginx = undefined;
  stopping = undefined;

  constructor({ database, databasePort, redisUrl, redisPrefix, dir }) {
    this.database = database;
    /** What the nodes are given. */
    this.dbUrl = `postgres://postgres@127.0.0.1:${databasePort}/${database}`;
    this.redisUrl = redisUrl;
    this.redisPrefix = redisPrefix;
    this.dir = dir;
  }

  /**
   * Runs `sql` in the cluster's database (directly, not through `databasePort`); resolves with
   * the first row as an object (`{ n: 3 }`), or undefined if there is none.
   */
  async query(sql) {
    const json = `SELECT row_to_json(result) FROM (${sql}) AS result LIMIT 1`;
    const { stdout } = await run('psql', [...psqlArgs(this.database), '-A', '-t', '-c', json]);
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  }

  /** Runs nginx with deploy/nginx.conf pointed at the nodes; resolves once it answers. */
  async startNginx() {
    const port = await freePort();
    const shipped = await readFile(NGINX_CONF, 'utf8');
    const chatConf = join(this.dir, 'chat.conf');
    await writeFile(chatConf, adapt(shipped, `127.0.0.1:${port}`, this.nodes.map((n) => new URL(n.url).host)));
    const temp = (name) => `${name}_temp_path ${join(this.dir, name)};`;
    const top = [
      // As root, the workers would otherwise switch to `nobody`, who cannot read this folder.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      'daemon off;',
      'master_process on;',
      'worker_processes 1;',
      `pid ${join(this.dir, 'nginx.pid')};`,
      `error_log ${join(this.dir, 'error.log')} notice;`,
      // Each client holds two connections (its own and the upstream one); the default 512
      // would cap a load test at about 250 clients.
      'worker_rlimit_nofile 8192;',
      'events { worker_connections 4096; }',
      'http {',
      `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}`,
      '  access_log off;',
      `  include ${chatConf};`,
      '}',
      '',
    ].join('\n');
    const conf = join(this.dir, 'nginx.conf');
    await writeFile(conf, top);

    const errorLog = join(this.dir, 'error.log');
    const nginx = spawn(NGINX, ['-p', this.dir, '-c', conf, '-e', errorLog], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.nginx = nginx;
    let stderr = '';
    nginx.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    const failed = async (why) => {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      return new Error(`nginx ${why}:\n${stderr}${log}`);
    };
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + READY_DEADLINE_MS;
    for (;;) {
      if (hasExited(nginx)) throw await failed(`exited with ${nginx.exitCode ?? nginx.signalCode}`);
      if ((await status(`${url}/socket.io/socket.io.js`)) === 200) break;
      if (Date.now() > deadline) throw await failed(`did not answer on ${url} within ${READY_DEADLINE_MS} ms`);
      await new Promise((done) => setTimeout(done, 50));
    }
    nginx.unref();
    nginx.stderr.unref();
    this.url = url;
  }

  /**
   * Stops the nodes (SIGTERM) and nginx, drops the database and the Redis keys, removes the
   * temporary folders. Safe to call at any point, and again (the same promise). Resolves with
   * the nodes' exit codes; rejects after doing everything if nginx or the database could not
   * be cleaned up.
   */
  stop() {
    this.stopping ??= (async () => {
      const codes = await Promise.all(
        this.nodes.map((node) => node.stop().catch(() => undefined)),
      );
      const problems = [];
      const attempt = async (what, work) => {
        try {
          await work();
        } catch (error) {
          problems.push(`${what}: ${error.message}`);
        }
      };
      await attempt('stopping nginx', async () => {
        if (this.nginx && !hasExited(this.nginx)) {
          this.nginx.ref();
          await terminate(this.nginx, STOP_DEADLINE_MS);
        }
      });
      if (this.dbCreated) {
        await attempt('dropping the database', () =>
          psql(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`));
      }
      // Only in the machine's Redis: one a test brought is its own to throw away (and may be
      // down by now). A key left behind is a warning, not a failure.
      if (this.redisUrl === REDIS_URL) {
        await run('redis-cli', redisDeleteArgs(this.redisUrl, this.redisPrefix), { timeout: 5000 })
          .catch((error) => console.error(`cluster clean-up: Redis keys ${this.redisPrefix}:* left: ${error.message}`));
      }
      for (const dir of [this.dir, ...this.nodes.map((node) => node.dataDir)]) {
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
      live.delete(this);
      if (problems.length) throw new Error(`cluster clean-up: ${problems.join('; ')}`);
      return codes;
    })();
    return this.stopping;
  }

  /** The last resort, when the process is exiting and nothing asynchronous can run. */
  stopNow() {
    for (const node of this.nodes) {
      if (node.child && !hasExited(node.child)) node.child.kill('SIGKILL');
    }
    // nginx's master takes its workers down on SIGTERM; SIGKILL would leave them listening.
    if (this.nginx && !hasExited(this.nginx)) {
      this.nginx.kill('SIGCONT');
      this.nginx.kill('SIGTERM');
    }
    const quietly = (program, programArgs) => {
      try {
        execFileSync(program, programArgs, { stdio: 'ignore', timeout: 5000 });
      } catch {
        // Best effort: the process is going away.
      }
    };
    if (this.dbCreated) {
      quietly('psql', [...psqlArgs('test'), '-c', `DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`]);
    }
    if (this.redisUrl === REDIS_URL) quietly('redis-cli', redisDeleteArgs(this.redisUrl, this.redisPrefix));
    for (const dir of [this.dir, ...this.nodes.map((node) => node.dataDir)]) {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    live.delete(this);
  }
}

/**
 * deploy/nginx.conf for this run: `listen 80;` becomes `listen <listen>;`, and the upstream's
 * `server` lines become one per node, with the parameters the first one has.
 */
function adapt(conf, listen, hosts) {
  const lines = conf.split('\n');
  const listens = lines.filter((line) => /^\s*listen\s+80\s*;/.test(line));
  const upstream = /^(\s*)server\s+[^\s;{]+:\d+((?:\s+[^;\s]+)*)\s*;\s*(#.*)?$/;
  const servers = lines.filter((line) => upstream.test(line));
  if (listens.length !== 1 || servers.length === 0) {
    throw new Error(
      `${NGINX_CONF} no longer has one \`listen 80;\` and upstream \`server HOST:PORT ...;\` lines: update cluster.mjs`,
    );
  }
  const [, indent, params] = servers[0].match(upstream);
  const first = lines.indexOf(servers[0]);
  const out = [];
  lines.forEach((line, index) => {
    if (index === first) {
      out.push(...hosts.map((host) => `${indent}server ${host}${params};`));
    } else if (!upstream.test(line)) {
      out.push(line.replace(/^(\s*)listen\s+80\s*;/, `$1listen ${listen};`));
    }
  });
  return out.join('\n');
}

async function psql(sql) {
  try {
    await run('psql', [...psqlArgs('test'), '-c', sql]);
  } catch (error) {
    throw new Error(
      `psql -c '${sql}' failed (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth?): ${error.stderr || error.message}`,
    );
  }
}

/** redis-cli arguments deleting every key under `prefix:` (KEYS is fine on a test Redis). */
function redisDeleteArgs(url, prefix) {
  const script = "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end";
  return ['-u', url, '--no-auth-warning', 'EVAL', script, '0', `${prefix}:*`];
}

function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitOf(child) {
  return child ? { code: child.exitCode, signal: child.signalCode } : undefined;
}

async function exited(child) {
  if (!hasExited(child)) await once(child, 'exit');
  return exitOf(child);
}

/** A port free on 127.0.0.1 now (for programs that cannot report the one they picked). */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** The HTTP status of a GET, or 0 if nothing answers; the connection is not kept. */
function status(url) {
  return new Promise((done) => {
    http
      .get(url, { agent: false }, (response) => {
        response.resume();
        done(response.statusCode);
      })
      .on('error', () => done(0));
  });
}

let watching = false;

/** Stops every live cluster when the process ends: normally, by an exception or by a signal. */
function watchProcess() {
  if (watching) return;
  watching = true;
  // The event loop ran dry with clusters still up (a test that did not stop its own).
  process.on('beforeExit', () => {
    for (const cluster of live) cluster.stop().catch((error) => console.error(error.message));
  });
  process.on('exit', () => {
    for (const cluster of live) cluster.stopNow();
  });
  let signalled = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, async () => {
      const code = 128 + osConstants.signals[signal];
      // A second signal: stop waiting; the `exit` handler does what it can at once.
      if (signalled) process.exit(code);
      signalled = true;
      await Promise.allSettled([...live].map((cluster) => cluster.stop()));
      process.exit(code);
    });
  }
}

// `node e2e/cluster.mjs`: a three-node cluster until Ctrl-C.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = process.env.CHAT_BIN ?? fileURLToPath(new URL('../target/release/chat', import.meta.url));
  try {
    accessSync(bin, fsConstants.X_OK);
  } catch {
    console.error(`${bin} is missing: \`cargo xtask cluster\` builds it and starts the cluster`);
    process.exit(1);
  }
  const { values, positionals } = parseArgs({
    options: { json: { type: 'boolean' }, nodes: { type: 'string', default: '3' } },
    allowPositionals: true,
  });
  const cluster = await startCluster({
    bin,
    nodes: Number(values.nodes),
    args: positionals,
    echo: !values.json,
  });
  if (values.json) {
    const nodes = cluster.nodes.map((node) => node.url);
    console.log(JSON.stringify({ url: cluster.url, nodes, pids: cluster.nodes.map((node) => node.pid) }));
  } else {
    console.log(`\nchat cluster: ${cluster.url} (nginx, deploy/nginx.conf)`);
    for (const node of cluster.nodes) console.log(`  ${node.name}: ${node.url} (pid ${node.pid})`);
    console.log(`  database ${cluster.dbUrl}, Redis ${cluster.redisUrl} prefix ${cluster.redisPrefix}`);
    console.log('Ctrl-C stops it and drops the database.\n');
  }
  // The nodes and nginx do not hold the process open (see Node.start); this does, until a
  // signal runs the clean-up and exits.
  setInterval(() => {}, 2 ** 30);
}
