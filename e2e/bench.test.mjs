// A short run of the load generator (CHAT_BENCH) against the release server: it connects,
// sends, measures, and reports one JSON line whose figures add up.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startServer } from './server.mjs';

const CHAT_BENCH = process.env.CHAT_BENCH;

test('chat-bench smoke run: every message delivered to every client', async () => {
  assert.ok(CHAT_BENCH, 'CHAT_BENCH is not set: run these tests with `cargo xtask test`');
  const server = await startServer();
  try {
    const { stdout } = await promisify(execFile)(CHAT_BENCH, [
      '--url', server.url, '--server-pid', String(server.pid),
      '--clients', '20', '--senders', '5', '--rate', '40', '--duration', '1', '--drain', '5',
      '--stalled', '2', '--verify',
    ], { timeout: 30_000 });
    const report = JSON.parse(stdout.trim().split('\n').at(-1));
    assert.ok(report.sent >= 30, `sent ${report.sent}`);
    // The two stalled clients read nothing during the run: they are not expected to.
    assert.equal(report.expected, report.sent * 18);
    assert.equal(report.received, report.expected);
    assert.equal(report.lost, 0);
    assert.equal(report.refused, 0);
    assert.ok(report.latency_ms.p50 > 0 && report.latency_ms.p50 <= report.latency_ms.p99);
    assert.ok(report.connect_ms.p99 > 0);
    assert.ok(report.server_rss_kib > 0 && report.server_cpu_s >= 0);
    assert.ok(report.server_peak_rss_kib >= report.server_rss_kib);
    // Read back: every acknowledged message is stored, and the stalled clients, reading late
    // and then catching up with `sync`, hold every one.
    assert.equal(report.acked, report.sent);
    assert.deepEqual(report.checks, {
      stored: report.sent, acked_not_stored: 0, stalled_cut_off: 0, stalled_caught_up: 2,
    });
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('chat-bench smoke run in rooms: each message reaches its room only', async () => {
  const server = await startServer();
  try {
    const { stdout } = await promisify(execFile)(CHAT_BENCH, [
      '--url', server.url, '--clients', '12', '--senders', '4', '--rooms', '4',
      '--rate', '20', '--duration', '1', '--drain', '5',
    ], { timeout: 30_000 });
    const report = JSON.parse(stdout.trim().split('\n').at(-1));
    assert.ok(report.sent >= 15, `sent ${report.sent}`);
    assert.equal(report.acked, report.sent);
    // 12 clients in 4 rooms: each message reaches the 3 in its room, sender included.
    assert.equal(report.expected, report.sent * 3);
    assert.equal(report.received, report.expected);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('chat-bench refuses to load anything but this machine', async () => {
  await assert.rejects(
    promisify(execFile)(CHAT_BENCH, ['--url', 'http://192.0.2.1:4000', '--duration', '1']),
    /not a loopback address/,
  );
});
