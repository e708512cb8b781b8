// Regenerates the settings reference in README.md from the settings table (src/config/settings.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { withReference } from "../src/config/reference.ts";

const file = new URL("../README.md", import.meta.url);
const before = readFileSync(file, "utf8");
const after = withReference(before);
if (after !== before) {
  writeFileSync(file, after);
  console.log("README.md: settings reference updated");
} else {
  console.log("README.md: settings reference already up to date");
}
