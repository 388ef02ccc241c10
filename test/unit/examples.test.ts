import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";

const dir = new URL("../../examples/", import.meta.url);
const examples = readdirSync(dir).filter((f) => f.endsWith(".ts"));

// The examples run for real in CI (`npm run examples`); here, that they stay short and use the typed client.
describe("the examples", () => {
  it("are the three scripts the runner runs", () => {
    expect(examples.sort()).toEqual(["hold-best-seats.ts", "organizer-publish.ts", "watch-seat-map.ts"]);
    const runner = readFileSync(new URL("../../scripts/examples.ts", import.meta.url), "utf8");
    for (const f of examples) expect(runner).toContain(`"${f.replace(/\.ts$/, "")}"`);
  });

  it.each(examples)("%s is under 40 lines and calls the API through the typed client only", (f) => {
    const text = readFileSync(new URL(f, dir), "utf8");
    expect(text.trimEnd().split("\n").length).toBeLessThan(40);
    expect(text).toMatch(/from "\.\.\/client\/src\/index"/);
    expect(text).not.toMatch(/\bfetch\(/);
  });
});
