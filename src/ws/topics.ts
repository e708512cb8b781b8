/**
 * Topics for publish/subscribe within one worker process: a topic's subscribers, and each socket's topics
 * (kept on the socket, so a closing socket leaves its topics without a search).
 */
export interface Subscriber {
  /** Writes an encoded frame; returns what `send` would (bytes, -1 backpressure, 0 dropped). */
  sendFrame(frame: Buffer, payloadLength: number): number;
}

export class Topics {
  private readonly map = new Map<string, Set<Subscriber>>();

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
