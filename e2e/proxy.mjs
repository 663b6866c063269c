// A TCP proxy on loopback that a test can cut and restore, to make a service (PostgreSQL)
// unreachable for the chat's nodes without touching the service itself.
import { once } from 'node:events';
import { connect, createServer } from 'node:net';

/** Forwards a free loopback port to `target` ({ host, port }). */
export async function startProxy(target) {
  const open = new Set();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
    const pair = [client, upstream];
    for (const socket of pair) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => pair.forEach((s) => s.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    /** Drops every open connection and refuses new ones. */
    cut() {
      cut = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      cut = false;
    },
    async close() {
      this.cut();
      server.close();
      await once(server, 'close');
    },
  };
}
