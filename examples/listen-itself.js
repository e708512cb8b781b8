// A server.js as many apps have it: it builds an Express app and calls app.listen(3000) itself.
// oryx runs it unchanged: the listen() is captured (port 3000 stays free), the callback still runs.
import express from "express";

const app = express();
app.get("/", (_req, res) => {
  res.send("Hello from a server that listens itself!");
});

const server = app.listen(3000, () => {
  const a = server.address();
  console.log(`listening on ${typeof a === "string" ? a : `${a?.address}:${a?.port}`}`);
});
