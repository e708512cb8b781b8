/**
 * The shared timeout queues: every connection's one armed timeout, kept in one queue per duration, each queue
 * served by one Node timer. A connection arms, re-arms and disarms its timeout several times per request (header,
 * then none, then keep-alive) and it almost never expires, so arming is a few pointer moves and no timer call.
 */

/** What sits in a queue: a connection, through the fields it keeps for this (one shape: no map, no wrapper). */
export interface Timed {
  /** When the armed timeout expires, in ms since EPOCH. */
  deadline: number;
  /** The queue this entry is in, and its neighbours there (null: not queued). */
  timeouts: TimeoutQueue | null;
  timeoutPrev: Timed | null;
  timeoutNext: Timed | null;
  /** Called when the deadline has passed, after the entry left its queue. */
  expire(): void;
  logError(msg: string, err: unknown): void;
}

const OWNER = Symbol("oryx.timeouts");
type QueueTimer = NodeJS.Timeout & { [OWNER]: TimeoutQueue };

/**
 * The armed timeouts of every connection with one duration, in the order they were armed. All were armed with
 * the same duration, so that is deadline order, and one Node timer (for the head) serves the whole queue: an idle
 * connection holds no timer object of its own (a Node Timeout was about 150 bytes per idle connection). Entries
 * leave the queue when disarmed; the queue's timer is left to fire and re-aims at the new head. (A wall clock
 * set back makes deadlines armed afterwards earlier than older ones: those fire late, by at most the jump.)
 */
export class TimeoutQueue {
  head: Timed | null = null;
  tail: Timed | null = null;
  timer: QueueTimer | null = null;
}

/** One queue per duration in ms: a server has a handful (header, keep-alive, body, drain, linger). */
const timeoutQueues = new Map<number, TimeoutQueue>();

/** The queue of timeouts armed for `ms`, if any was ever armed. */
export function queueOf(ms: number): TimeoutQueue | undefined {
  return timeoutQueues.get(ms);
}

function timeoutQueue(ms: number): TimeoutQueue {
  let q = timeoutQueues.get(ms);
  if (q === undefined) {
    q = new TimeoutQueue();
    timeoutQueues.set(ms, q);
  }
  return q;
}

// Deadlines are kept in ms since this module loaded: small integers that V8 stores in the object itself, where
// a Date.now() value would be a separate 16-byte number per field per connection (for the first 12 days).
export const EPOCH = Date.now();

/**
 * Queues `t` to expire `ms` after `now` (a Date.now() value the caller read): at the end of the queue of its
 * duration. `t` must not be queued already (see `unqueue`).
 */
export function enqueue(t: Timed, ms: number, now: number): void {
  t.deadline = now - EPOCH + ms;
  const q = timeoutQueue(ms);
  t.timeouts = q;
  const tail = q.tail;
  t.timeoutPrev = tail;
  if (tail === null) q.head = t;
  else tail.timeoutNext = t;
  q.tail = t;
  if (q.timer === null) startQueueTimer(q, ms);
}

/** Takes `t` out of its queue (it must be in one). */
export function unqueue(t: Timed): void {
  const q = t.timeouts!;
  const prev = t.timeoutPrev;
  const next = t.timeoutNext;
  if (prev === null) q.head = next;
  else prev.timeoutNext = next;
  if (next === null) q.tail = prev;
  else next.timeoutPrev = prev;
  t.timeouts = null;
  t.timeoutPrev = null;
  t.timeoutNext = null;
}

/** A Node timer that finds its queue on itself: no closure, no argument list. */
function startQueueTimer(q: TimeoutQueue, ms: number): void {
  const timer = setTimeout(onQueueTimer, ms) as QueueTimer;
  timer[OWNER] = q;
  timer.unref();
  q.timer = timer;
}

/** Expires every entry whose deadline has passed, then aims the timer at the next deadline, if any. */
function onQueueTimer(this: QueueTimer): void {
  const q = this[OWNER];
  // q.timer stays set while expiring, so an entry armed meanwhile (into this queue) starts no second timer.
  const now = Date.now() - EPOCH;
  let t: Timed | null;
  while ((t = q.head) !== null && t.deadline <= now) {
    unqueue(t);
    try {
      t.expire();
    } catch (err) {
      t.logError("a connection's timeout failed", err);
    }
  }
  q.timer = null;
  if (q.head !== null) startQueueTimer(q, q.head.deadline - now);
}
