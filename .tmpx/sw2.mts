import { unstable_startWorker } from "wrangler";
const w = await unstable_startWorker({ config: process.env.CFG ?? "wrangler.toml", bindings: { ENVIRONMENT: { type: "plain_text", value: "development" } }, dev: { server: { hostname: "127.0.0.1", port: 8798 }, inspector: process.env.INSPECT ? { port: Number(process.env.INSPECT) } : false, persist: false, watch: false } });
await w.ready;
console.log("ready", String(await w.url), process.pid);
setInterval(() => {}, 1000);
