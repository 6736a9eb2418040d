/**
 * The node watchdog's end of the control channel: the report descriptor (fd 3) is a socket
 * pair when the provider started us, so besides writing reports on it we read requests from
 * it, one JSON object per line, each answered with one line carrying the same `id`. Loading
 * a function this way skips a TCP connection and an HTTP exchange on the cold-start path.
 * Run by hand (no fd 3, or not a socket) there is no channel; HTTP control still works.
 */
import { fstatSync } from 'node:fs';
import net from 'node:net';
import { REPORT_FD, type ChannelReply, type ChannelRequest } from './protocol.js';

/** `afterReply` runs right after each reply is written, before any other I/O is handled. */
export function openChannel(afterReply: () => void, handle: (req: ChannelRequest) => Promise<Omit<ChannelReply, 'id'>>): boolean {
  let sock: net.Socket;
  try {
    if (!fstatSync(REPORT_FD).isSocket()) return false;
    sock = new net.Socket({ fd: REPORT_FD, readable: true, writable: true });
  } catch {
    return false;
  }
  sock.unref(); // the HTTP server keeps the process alive, not the channel
  sock.on('error', () => { /* the provider went away; the orphan check ends us */ });
  sock.setEncoding('utf8');
  let rest = '';
  sock.on('data', (text: string) => {
    rest += text;
    let i: number;
    while ((i = rest.indexOf('\n')) !== -1) {
      const line = rest.slice(0, i);
      rest = rest.slice(i + 1);
      let req: ChannelRequest;
      try { req = JSON.parse(line) as ChannelRequest; } catch { continue; }
      void handle(req).then(
        (reply) => { sock.write(JSON.stringify({ ...reply, id: req.id }) + '\n'); afterReply(); },
        (err: unknown) => { sock.write(JSON.stringify({ id: req.id, error: err instanceof Error ? err.message : String(err) }) + '\n'); afterReply(); },
      );
    }
  });
  return true;
}
