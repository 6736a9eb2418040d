/**
 * The interface the proxy core calls when a pool has governance configured. Each client
 * session then carries one SessionGovernance; a pool without governance has `gov === null`
 * and pays one null check per request.
 */
import type { RequestParser } from '../../resp/index.js';
import type { ClientSession, Slot } from '../session.js';

export interface SessionGovernance {
  /** Before the splitter; true when the request was answered here (auth, permissions, limits, faults). */
  onRequest(s: ClientSession, p: RequestParser): boolean;
  /** The current request was answered at once (local command, proxy error). */
  onImmediateReply(s: ClientSession, reply: Buffer): void;
  /** A backend (or merged) reply for a slot; true when taken over (delivered later with slot.fill). */
  onSlotReply(slot: Slot, reply: Buffer): boolean;
}

/** Checked before a request goes to a backend: an error reply refuses it (ejected, overloaded). */
export type BackendGate = (clientId: number) => Buffer | null;
