// npm run client:generate — writes client/openapi.json (the Worker's own document, read by importing
// the app in Node with `cloudflare:*` stubbed), client/src/api.d.ts (openapi-typescript) and the
// operations table of docs/api.md from it. `npm run client:check` writes nothing and exits 1 when
// a committed file differs from what it would write.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { createApp } from "../../src/app";
import { withOperations } from "./operations";
import { specToTypes } from "./types";

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const SPEC = root("client/openapi.json");
const TYPES = root("client/src/api.d.ts");
const API_DOC = root("docs/api.md");

/** The document exactly as `GET /openapi.json` answers it, with wrangler.toml's variables as the env. */
export async function currentSpec(): Promise<string> {
  const { vars } = unstable_readConfig({ config: root("wrangler.toml") });
  // wrangler.toml says production, which refuses to serve without SECRETS_KEYS (secrets at rest):
  // a throwaway key, as the JWT secret is; the document never touches either.
  const env = { ...vars, JWT_SECRET: "generate-openapi-document-not-a-real-secret", SECRETS_KEYS: `generate:${Buffer.alloc(32).toString("base64")}` };
  // The app logs every request as a JSON line; this one is not worth printing.
  const log = console.log;
  console.log = () => {};
  const res = await Promise.resolve(createApp().request("/openapi.json", {}, env as never)).finally(() => (console.log = log));
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
  return `${JSON.stringify(await res.json(), null, 2)}\n`;
}

const check = process.argv.includes("--check");
const spec = await currentSpec();
const types = await specToTypes(spec);
const stale = [
  [SPEC, spec],
  [TYPES, types],
  [API_DOC, withOperations(readFileSync(API_DOC, "utf8"), spec)],
].filter(([file, text]) => {
  let now = "";
  try {
    now = readFileSync(file, "utf8");
  } catch {
    // missing: stale
  }
  return now !== text;
});
if (check) {
  for (const [file] of stale) console.error(`${file} is stale: run npm run client:generate`);
  if (!stale.length) console.log("client/openapi.json, client/src/api.d.ts and docs/api.md are current");
  process.exit(stale.length ? 1 : 0);
}
for (const [file, text] of stale) writeFileSync(file, text);
console.log(stale.length ? `wrote ${stale.map(([f]) => f).join(", ")}` : "client/openapi.json, client/src/api.d.ts and docs/api.md are current");
