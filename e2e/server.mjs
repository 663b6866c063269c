// Starts the release `chat` binary (CHAT_BIN) on a free port, with a fresh data directory, and
// stops it with SIGTERM (removing the data).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, terminate } from './spawn.mjs';

export const CHAT_BIN = process.env.CHAT_BIN;
if (!CHAT_BIN) {
  throw new Error('CHAT_BIN is not set: run these tests with `cargo xtask test`');
}

/**
 * Starts a server on a free port with a fresh data directory; `args` are more command-line
 * flags, such as a raised rate limit for a load test.
 */
export async function startServer({ cwd, bin = CHAT_BIN, args = [] } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-e2e-'));
  const log = [];
  let { child, url } = await spawnServer({ bin, cwd, bind: '127.0.0.1:0', dataDir, args, log });
  return {
    url,
    log,
    get pid() {
      return child.pid;
    },
    /** Stops the process gracefully and starts it again on the same port and data. */
    async restart() {
      assert.equal(await terminate(child), 0, 'graceful shutdown exits 0');
      ({ child } = await spawnServer({ bin, cwd, bind: new URL(url).host, dataDir, args, log }));
    },
    /** SIGTERM, then the exit code (0 for a graceful shutdown); removes the data. */
    async stop() {
      const code = await terminate(child);
      await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
