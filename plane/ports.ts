import net from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1. Racy by nature; callers retry on EADDRINUSE. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** True when something accepts connections on 127.0.0.1:port. */
export async function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Fails with a message that says what to do when a port the caller insists on is taken. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  if (await isListening(port)) {
    throw new Error(
      `port ${port} on 127.0.0.1 (wanted for ${what}) is already in use; ` +
        `stop whatever listens there (ss -ltnp 'sport = :${port}') or choose another port`,
    );
  }
}
