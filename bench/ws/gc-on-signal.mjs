// Preloaded into an oryx process by bench/ws/idle-memory.ts (NODE_OPTIONS="--expose-gc --import THIS"): SIGUSR2
// runs a full garbage collection, so the RSS read after it counts what live sockets hold, not handshake garbage
// that no collection has reclaimed yet. oryx itself does not use SIGUSR2.
const gc = globalThis.gc;
if (typeof gc === "function") {
  process.on("SIGUSR2", () => {
    gc();
    gc();
  });
}
