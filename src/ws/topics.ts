/**
 * Topics for publish/subscribe: a topic's subscribers in this worker process, and each socket's topics (kept on
 * the socket, so a closing socket leaves its topics without a search). A publish is also handed to `relay`, which
 * a worker of a pool sets (src/arbiter/worker.ts): the master passes it to the other workers, which `deliver` it.
 */
export interface Subscriber {
  /** Writes an encoded frame; returns what `send` would (bytes, -1 backpressure, 0 dropped). */
  sendFrame(frame: Buffer, payloadLength: number): number;
}

export class Topics {
  private readonly map = new Map<string, Set<Subscriber>>();
  /** Where a publish goes besides this process's subscribers (the other workers), if anywhere. */
  relay: ((topic: string, frame: Buffer, payloadLength: number) => void) | null = null;

  subscribe(topic: string, s: Subscriber): void {
    let set = this.map.get(topic);
    if (set === undefined) this.map.set(topic, (set = new Set()));
    set.add(s);
  }

  unsubscribe(topic: string, s: Subscriber): void {
    const set = this.map.get(topic);
    if (set === undefined) return;
    set.delete(s);
    if (set.size === 0) this.map.delete(topic);
  }

  count(topic: string): number {
    return this.map.get(topic)?.size ?? 0;
  }

  /**
   * Sends one encoded frame to every subscriber of `topic` but `except`. Returns the payload's length if any
   * subscriber took it whole, -1 if one took it under backpressure and none whole, 0 if there was nobody or all
   * dropped it (Bun's numbers for `publish`).
   */
  publish(topic: string, frame: Buffer, payloadLength: number, except: Subscriber | null): number {
    this.relay?.(topic, frame, payloadLength);
    return this.deliver(topic, frame, payloadLength, except);
  }

  /**
   * The publish to this process's subscribers only (what another worker relayed). The number is this
   * process's: subscribers in other workers are not waited for.
   */
  deliver(topic: string, frame: Buffer, payloadLength: number, except: Subscriber | null = null): number {
    const set = this.map.get(topic);
    if (set === undefined) return 0;
    let result = 0;
    for (const s of set) {
      if (s === except) continue;
      const r = s.sendFrame(frame, payloadLength);
      if (r > 0) result = payloadLength;
      else if (r === -1 && result === 0) result = -1;
    }
    return result;
  }
}

/** The topics of this process (a worker): every server in it shares them, as `server.publish` reaches them all. */
export const processTopics = new Topics();
