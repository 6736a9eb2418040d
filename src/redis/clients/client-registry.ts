/**
 * The proxy's own clients, for CLIENT LIST / CLIENT KILL / CLIENT INFO / CLIENT UNBLOCK and
 * INFO clients. Ids are the proxy's (CLIENT ID), not any backend's.
 */
import type { ClientSession } from '../session.js';

export interface ClientFilter {
  id?: number[];
  addr?: string;
  laddr?: string;
  user?: string;
  type?: string;
  skipme?: boolean;
  maxage?: number;
}

export class ClientRegistry {
  private readonly byId = new Map<number, { s: ClientSession; since: number }>();

  add(s: ClientSession): void { this.byId.set(s.id, { s, since: Date.now() }); }
  remove(s: ClientSession): void { this.byId.delete(s.id); }
  get(id: number): ClientSession | undefined { return this.byId.get(id)?.s; }
  get size(): number { return this.byId.size; }
  all(): ClientSession[] { return [...this.byId.values()].map((e) => e.s); }

  static addr(s: ClientSession): string { return `${s.socket.remoteAddress ?? '?'}:${s.socket.remotePort ?? 0}`; }
  static laddr(s: ClientSession): string { return `${s.socket.localAddress ?? '?'}:${s.socket.localPort ?? 0}`; }

  /** The authenticated user (governance), 'default' without downstream auth. */
  static user(s: ClientSession): string {
    const g = s.gov as unknown as { user?: { username?: string } | null } | null;
    return g?.user?.username ?? 'default';
  }

  static type(s: ClientSession): string {
    const st = s.state;
    return st !== null && st.subscriptions > 0 ? 'pubsub' : 'normal';
  }

  /** One CLIENT LIST line (Redis' field names; fields the proxy has no notion of are omitted). */
  line(s: ClientSession, now: number): string {
    const e = this.byId.get(s.id);
    const st = s.state;
    const flags = (st?.blocked ? 'b' : '') + (st?.tx ? 'x' : '') + (st?.subscriptions ? 'P' : '') || 'N';
    const cmd = st?.lastCommand ?? 'NULL';
    return [
      `id=${s.id}`, `addr=${ClientRegistry.addr(s)}`, `laddr=${ClientRegistry.laddr(s)}`, 'fd=-1', `name=${s.name}`,
      `age=${Math.floor((now - (e?.since ?? now)) / 1000)}`, `idle=${Math.floor((now - (st?.lastActive ?? e?.since ?? now)) / 1000)}`,
      `flags=${flags}`, `db=${st?.db ?? 0}`, `sub=${st?.channels.size ?? 0}`, `psub=${st?.patterns.size ?? 0}`,
      `ssub=${st?.shardChannels.size ?? 0}`, `multi=${st?.tx ? 0 : -1}`, `cmd=${cmd || 'NULL'}`, `user=${ClientRegistry.user(s)}`,
      `resp=${st?.proto ?? 2}`,
    ].join(' ');
  }

  matches(s: ClientSession, f: ClientFilter, self: ClientSession, now: number): boolean {
    if (f.id && !f.id.includes(s.id)) return false;
    if (f.addr !== undefined && ClientRegistry.addr(s) !== f.addr) return false;
    if (f.laddr !== undefined && ClientRegistry.laddr(s) !== f.laddr) return false;
    if (f.user !== undefined && ClientRegistry.user(s) !== f.user) return false;
    if (f.type !== undefined && ClientRegistry.type(s) !== f.type) return false;
    if (f.skipme !== false && s === self) return false;
    if (f.maxage !== undefined) {
      const since = this.byId.get(s.id)?.since ?? now;
      if ((now - since) / 1000 < f.maxage) return false;
    }
    return true;
  }
}
