// The seed chat as its README describes it: Express serves the page, Socket.io relays every
// `chatMessage` to every client (sender included) with io.emit. Used only as the benchmark's
// baseline, so it adds what the load generator needs and nothing else: a `welcome` on connect
// (the generator waits for it, as it does with the Rust server) and an ack for messages sent
// with one. PORT (default 4000) and HOST (default 127.0.0.1) choose the address;
// PING_INTERVAL_MS and PING_TIMEOUT_MS, when set, Socket.io's heartbeat (the benchmark's
// overload run shortens it).
import { createServer } from 'node:http';
import express from 'express';
import { Server } from 'socket.io';

const app = express();
const http = createServer(app);
const heartbeat = {};
if (process.env.PING_INTERVAL_MS) heartbeat.pingInterval = Number(process.env.PING_INTERVAL_MS);
if (process.env.PING_TIMEOUT_MS) heartbeat.pingTimeout = Number(process.env.PING_TIMEOUT_MS);
const io = new Server(http, heartbeat);

app.get('/', (_req, res) => {
  res.type('html').send('<!doctype html><title>Chat</title><p>Reference server for benchmarks.</p>');
});

io.on('connection', (socket) => {
  socket.emit('welcome', { user: { id: socket.id, name: `Guest ${socket.id.slice(0, 4)}` } });
  socket.on('chatMessage', (message, ack) => {
    io.emit('chatMessage', message);
    if (typeof ack === 'function') ack({ status: 'ok' });
  });
});

const port = Number(process.env.PORT ?? 4000);
const host = process.env.HOST ?? '127.0.0.1';
http.listen(port, host, () => {
  console.log(`chat listening on http://${host}:${http.address().port}`);
});
process.on('SIGTERM', () => {
  io.close();
  http.close(() => process.exit(0));
});
