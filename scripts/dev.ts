// `npm run dev`: the whole local stack in one command; Ctrl-C stops everything it started.
import { startDevStack } from "./lib/dev-stack";
import { seedDemoData } from "./lib/seed";

const port = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
  console.error(`PORT must be a TCP port number, got ${process.env.PORT}`);
  process.exit(2);
}
const rateLimits = process.env.EVENTLY_RATE_LIMITS === "off" ? "off" : "on";

const stack = await startDevStack({ port, rateLimits }).catch((e) => {
  console.error(`evently: could not start: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\nevently: ${signal}, stopping wrangler, proxy and database…`);
  await stack.stop();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

// /health/ready answers as soon as Postgres and the objects do; the demo data comes after, so the
// banner below is the signal that the seed is done.
console.log(`evently: the API answers at ${stack.url}; seeding demo data through it…`);
const seedStarted = Date.now();
try {
  const seeded = (await seedDemoData(stack.url, stack.database.url, (s) => console.log(s))).lines;
  console.log(
    [
      "",
      `Evently is ready at ${stack.url} (demo data seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s)`,
      `  database: ${stack.database.kind} (${stack.database.url.replace(/\/\/[^@/]*@/, "//…@")})`,
      `  API docs: ${stack.url}/docs`,
      ...seeded,
      `  rate limits: ${rateLimits}`,
      "Ctrl-C stops everything.",
    ].join("\n"),
  );
} catch (e) {
  console.error(`evently: seeding demo data failed: ${e instanceof Error ? e.message : e}`);
  console.error(`evently: the API still runs at ${stack.url}; restart npm run dev to seed again (it resumes where it stopped).`);
}
