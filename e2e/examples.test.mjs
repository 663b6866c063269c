// The example clients in examples/ against the release server: each connects, catches up, sends
// one message with --once and must see it come back as a broadcast, then exit 0 by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
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

test('the Python example sends a message and sees its echo', async () => {
  const python = process.env.CHAT_PYTHON;
  assert.ok(
    python,
    'CHAT_PYTHON is not set: point it at a Python that has examples/python/requirements.txt '
      + 'installed, such as the venv target/py/bin/python',
  );
  const text = `python says hi ${randomUUID()}`;
  const client = join(ROOT, 'examples/python/chat_client.py');
  const result = await run(python, [client, server.url, '--once', '--name', 'Py', '--text', text]);
  assertEchoed(result, text);
});

test('the Node example sends a message and sees its echo', async () => {
  const text = `node says hi ${randomUUID()}`;
  const client = join(ROOT, 'examples/node/chat_client.mjs');
  const result = await run(process.execPath, [
    client, server.url, '--once', '--name', 'Nd', '--text', text,
  ]);
  assertEchoed(result, text);
});
