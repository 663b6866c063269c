// Starts the release `chat` binary (CHAT_BIN) on a free port and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export const CHAT_BIN = process.env.CHAT_BIN;
if (!CHAT_BIN) {
  throw new Error('CHAT_BIN is not set: run these tests with `cargo xtask test`');
}

/** Resolves once the server logs the address it listens on. */
export async function startServer({ cwd, bin = CHAT_BIN } = {}) {
  const child = spawn(bin, ['--bind', '127.0.0.1:0'], {
    cwd,
    env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const log = [];
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}:\n${log.join('\n')}`)));
    lines.on('line', (line) => {
      log.push(line);
      const match = line.match(/listening on (http:\/\/[\d.:]+)/);
      if (match) resolve(match[1]);
    });
  });
  return {
    url,
    log,
    /** SIGTERM, then the exit code (0 for a graceful shutdown). */
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code;
    },
  };
}
