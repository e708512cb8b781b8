// @ts-check
// The Express app on node:http.
import { createServer } from "node:http";
import app from "./express-app.mjs";
import { PORT } from "./common.mjs";

const server = createServer(app);
server.listen(PORT, "127.0.0.1");
