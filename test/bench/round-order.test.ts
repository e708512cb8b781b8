/**
 * The suite's round order (bench/scenarios.ts roundOrder): each scenario's peers start at another peer each
 * round, blocks stay in place and whole, and every round measures every measurement exactly once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAIN_SCENARIOS, measureKey, measuresOf, roundOrder } from "../../bench/scenarios.ts";

test("each block of a round starts one peer further than in the round before, and wraps", () => {
  const measures = measuresOf(MAIN_SCENARIOS.filter((s) => s.id === "user-hello" || s.id === "hono-prod"));
  const peers = (round: number): string[] => roundOrder(measures, round).map((m) => `${m.load}:${m.peer}`);
  assert.deepEqual(peers(1), [
    "hello:node-http", "hello:toy-samework", "hello:bun-user", "hello:oryx-user",
    "users:hono-prod-node", "users:bun-hono-prod", "users:oryx-hono-prod",
  ]);
  assert.deepEqual(peers(2), [
    "hello:toy-samework", "hello:bun-user", "hello:oryx-user", "hello:node-http",
    "users:bun-hono-prod", "users:oryx-hono-prod", "users:hono-prod-node",
  ]);
  // Round 5: the 4-peer block has come full circle, the 3-peer block is where it was in round 2.
  assert.deepEqual(peers(5), peers(1).slice(0, 4).concat(peers(2).slice(4)));
  assert.deepEqual(peers(4).slice(4), peers(1).slice(4));
});

test("every round of the full main phase measures each measurement once, and each peer of a block takes every place", () => {
  const measures = measuresOf(MAIN_SCENARIOS);
  const all = measures.map(measureKey).sort();
  const firsts = new Map<number, Set<string>>();
  for (let round = 1; round <= 12; round++) {
    const order = roundOrder(measures, round);
    assert.deepEqual(order.map(measureKey).sort(), all, `round ${round}`);
    // Blocks keep their place in the round: the block numbers never go back.
    for (let i = 1; i < order.length; i++) assert.ok(order[i]!.block >= order[i - 1]!.block, `round ${round}: block order`);
    for (let i = 0; i < order.length; i++) {
      if (i > 0 && order[i - 1]!.block === order[i]!.block) continue;
      const set = firsts.get(order[i]!.block) ?? new Set<string>();
      set.add(order[i]!.peer);
      firsts.set(order[i]!.block, set);
    }
  }
  // Over 12 rounds (more than any block has peers) every peer of a block has been its first.
  for (const [block, set] of firsts) {
    assert.equal(set.size, measures.filter((m) => m.block === block).length, `block ${block}`);
  }
});
