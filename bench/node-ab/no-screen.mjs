// @ts-check
// A/B only (bench/node-ab/run.ts): preloaded into oryx's worker, it hands each socket to the Node app's
// http.Server with no screen in front (Node's parser reads the socket natively, as on node:http). Never for use:
// it turns off what oryx checks; it exists to measure what the screen costs.
import { Screens } from "../../dist/gateway/node-screen.js";

/** @this {Screens} @param {import("node:net").Socket} socket */
Screens.prototype.take = function (socket) {
  this.server.emit("connection", socket);
  return /** @type {any} */ (undefined);
};
