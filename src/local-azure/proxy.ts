/**
 * The HTTP CONNECT proxy clients reach through HTTPS_PROXY: for Azure's hostnames it answers
 * the CONNECT, terminates TLS with the certificate Azure serves for that host (see ca.ts) and
 * serves the request; every other target is refused with 403, so nothing leaves the machine.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { CertificateAuthority } from './ca';
import { serviceForHost } from './router';

/** What the proxy hands requests to. */
export interface ProxyHandlers {
  /**
   * A request that came through a TLS tunnel to `authority` (the CONNECT host) from the proxy
   * client at `source` (the address the CONNECT came from).
   */
  tunnelled(req: IncomingMessage, res: ServerResponse, authority: string, source: string): Promise<void>;
  /** A plain request to the proxy itself (the admin endpoint). */
  direct(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Starts the proxy on host:port and resolves with the server and its URL. */
export async function startProxy(
  ca: CertificateAuthority,
  handlers: ProxyHandlers,
  host: string,
  port: number,
): Promise<{ server: Server; url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const inner = createServer({ keepAlive: true }, (req, res) => {
    const tunnel = req.socket as TLSSocket & { authority?: string; source?: string };
    void handlers.tunnelled(req, res, tunnel.authority ?? '', tunnel.source ?? '');
  });
  const outer = createServer((req, res) => void handlers.direct(req, res));
  outer.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  outer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const [target = '', targetPort = '443'] = (req.url ?? '').split(':');
    if (!serviceForHost(target) || targetPort !== '443') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    ca.contextFor(target).then(
      (secureContext) => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) socket.unshift(head);
        const tls = new TLSSocket(socket, {
          isServer: true,
          secureContext,
          ALPNProtocols: ['http/1.1'],
        }) as TLSSocket & { authority?: string; source?: string };
        tls.authority = target.toLowerCase();
        tls.source = socket.remoteAddress ?? '';
        tls.on('error', () => tls.destroy());
        inner.emit('connection', tls);
      },
      () => socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    outer.once('error', reject);
    outer.listen(port, host, () => resolve());
  });
  const address = outer.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  outer.on('close', () => inner.close());
  return { server: outer, url: `http://${host}:${actualPort}`, sockets };
}
