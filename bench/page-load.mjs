// First page load of the chat in headless Chromium: what the page fetches and how long until it
// is usable. Usage: node bench/page-load.mjs --url http://127.0.0.1:4000 [--runs 5]
//
// Each run loads the page twice, each time in a fresh browser context (empty cache), and
// measures from the start of navigation:
// - interactive_ms, a first visit: the UI is rendered and takes input (the name field shows);
// - connected_ms, a returning visitor (a name in localStorage, still an empty cache): the status
//   reads "Connected", i.e. the socket is open and the server's welcome has arrived, so a message
//   typed now is sent at once;
// - bytes: the encoded (on the wire) body bytes of every HTTP response of the first visit, as
//   Chromium negotiated them (it asks for brotli).
// Then every URL the page fetched is fetched once more asking for gzip only, for the gzip total.
// The last line printed is one JSON object with the medians.
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: { url: { type: 'string' }, runs: { type: 'string', default: '5' } },
});
const base = new URL(values.url ?? 'http://127.0.0.1:4000');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname)) {
  throw new Error(`page-load only targets this machine, not ${base.hostname}`);
}

/**
 * Records, in the page's own clock, when a text field first shows (`__inputAt`) and when the
 * status first reads "Connected" (`__connectedAt`). With `name`, the visitor has been here.
 */
function watch(name) {
  if (name) localStorage.setItem('chat.name', name);
  new MutationObserver((_, observer) => {
    window.__inputAt ??= document.querySelector('input, textarea') ? performance.now() : undefined;
    if (document.querySelector('[role=status]')?.textContent.includes('Connected')) {
      window.__connectedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

/** Loads the page in a fresh context; resolves when `mark` is set, with it and the requests. */
async function load(browser, name, mark) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(watch, name);
  const fetched = [];
  page.on('requestfinished', (req) => fetched.push(req));
  await page.goto(base.href);
  await page.waitForFunction((mark) => window[mark] !== undefined, mark, { timeout: 10_000 });
  return { context, at: await page.evaluate((mark) => window[mark], mark), fetched };
}

async function onePageLoad(browser) {
  const returning = await load(browser, 'Returning visitor', '__connectedAt');
  await returning.context.close();
  const { context, at: interactive, fetched } = await load(browser, null, '__inputAt');
  let bytes = 0;
  const urls = new Set();
  for (const req of fetched) {
    bytes += (await req.sizes()).responseBodySize;
    const url = new URL(req.url());
    // Socket.io's own requests (polling handshake) are protocol, not page weight.
    if (!url.pathname.startsWith('/socket.io/') || url.pathname.endsWith('.js')) {
      urls.add(url.pathname);
    }
  }
  await context.close();
  return { interactive, connected: returning.at, bytes, urls: [...urls] };
}

/** Body bytes on the wire when only gzip is accepted. */
function gzipBytes(path) {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      let total = 0;
      res.on('data', (chunk) => (total += chunk.length));
      res.on('end', () => resolve(total));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const runs = [];
try {
  for (let i = 0; i < Number(values.runs); i++) {
    const run = await onePageLoad(browser);
    console.log(
      `run ${i + 1}: interactive ${run.interactive.toFixed(1)} ms, ` +
        `connected ${run.connected.toFixed(1)} ms, ${run.bytes} bytes`,
    );
    runs.push(run);
  }
} finally {
  await browser.close();
}
const files = {};
for (const path of runs[0].urls) files[path] = await gzipBytes(path);
const gzip = Object.values(files).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    runs: runs.length,
    interactive_ms: median(runs.map((r) => r.interactive)),
    connected_ms: median(runs.map((r) => r.connected)),
    wire_bytes: median(runs.map((r) => r.bytes)),
    gzip_bytes: gzip,
    gzip_files: files,
  }),
);
