/** The standard CloseEvent's init. */
export interface CloseEventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/**
 * The standard CloseEvent (HTML's WebSockets section). Node has it as a global only from Node 23; Bun and Deno
 * always do, and WebSocket code written for them makes one (Hono's `hono/bun` does in its close handler). So
 * oryx's own is installed as the global where Node has none, once an app serves WebSockets.
 */
class OryxCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

export const CloseEventClass: typeof OryxCloseEvent = ((globalThis as { CloseEvent?: typeof OryxCloseEvent }).CloseEvent ?? OryxCloseEvent);

export function installCloseEvent(): void {
  const g = globalThis as { CloseEvent?: unknown };
  if (g.CloseEvent === undefined) Object.defineProperty(globalThis, "CloseEvent", { value: OryxCloseEvent, writable: true, configurable: true, enumerable: false });
}
