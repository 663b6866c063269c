// The release binary alone, copied into an empty folder, serves the whole UI.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHAT_BIN, startServer } from './server.mjs';

test('the binary needs no files beside it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chat-binary-'));
  const bin = join(dir, 'chat');
  await copyFile(CHAT_BIN, bin);
  await import('node:fs/promises').then((fs) => fs.chmod(bin, 0o755));
  const server = await startServer({ cwd: dir, bin });
  try {
    const page = await fetch(server.url, { headers: { 'accept-encoding': 'br' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('content-encoding'), 'br');
    const html = await page.text();

    // The page is minified (attribute values unquoted where they can be); the stylesheet is
    // inlined, so the page's own files are the WebAssembly and its JS glue.
    const assets = [...html.matchAll(/(?:href|src)=["']?(\/[^"'\s>]+)/g)].map((m) => m[1]);
    assert.match(html, /<style>/);
    const types = { wasm: 'application/wasm', js: 'text/javascript; charset=utf-8' };
    for (const ext of ['wasm', 'js']) {
      const path = assets.find((a) => a.endsWith(`.${ext}`) && a !== '/socket.io/socket.io.js');
      assert.ok(path, `the page links a .${ext} file: ${assets}`);
      const response = await fetch(server.url + path, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('content-type'), types[ext], path);
      assert.equal(response.headers.get('content-encoding'), 'gzip', path);
      assert.match(response.headers.get('cache-control'), /immutable/, path);
    }
    const client = await fetch(`${server.url}/socket.io/socket.io.js`);
    assert.equal(client.status, 200);
    assert.match(await client.text(), /Socket\.IO/);
  } finally {
    assert.equal(await server.stop(), 0, 'SIGTERM shuts down gracefully');
    assert.ok(server.log.some((line) => line.includes('server stopped')), server.log.join('\n'));
    await rm(dir, { recursive: true, force: true });
  }
});
