// Runs the `chat` binary and stops it: shared by server.mjs (one server) and cluster.mjs (nodes
// behind nginx).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Runs the binary; resolves with the child and its URL once it logs where it listens. Every
 * line it prints goes to `log` (and to `onLine`, if given).
 */
export async function spawnServer({ bin, cwd, bind, dataDir, args = [], log, env = {}, onLine }) {
  const child = spawn(bin, ['--bind', bind, '--data-dir', dataDir, ...args], {
    cwd,
    env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`server exited early with ${code ?? signal}:\n${log.join('\n')}`)));
    lines.on('line', (line) => {
      log.push(line);
      onLine?.(line);
      const match = line.match(/listening on (http:\/\/[\d.:]+)/);
      if (match) resolve(match[1]);
    });
  });
  return { child, url };
}

/**
 * SIGTERM, then the exit code (0 for a graceful shutdown; null if it ended by a signal), at once
 * if it has exited. Past `deadlineMs` it is killed (SIGKILL).
 */
export async function terminate(child, deadlineMs = Infinity) {
  if (child.exitCode === null && child.signalCode === null) {
    const exit = once(child, 'exit');
    child.kill('SIGTERM');
    let timer;
    if (Number.isFinite(deadlineMs)) timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    await exit;
    clearTimeout(timer);
  }
  return child.exitCode;
}
