/**
 * The same itty-router app exported the way itty-router's README shows: `export default { ...router }`, which
 * "strips the proxy" (a plain object with the router's fetch).
 */
import router from "./itty.ts";

export default { ...router };
