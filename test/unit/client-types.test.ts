import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { withOperations } from "../../client/scripts/operations";
import { specToTypes } from "../../client/scripts/types";

const file = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), "utf8");

// test/workers/openapi-client.test.ts checks client/openapi.json against the Worker; this checks
// the committed types against client/openapi.json. Together: the client matches the API.
describe("the typed client's generated types", () => {
  it("are what openapi-typescript makes of client/openapi.json (else: npm run client:generate)", async () => {
    expect(await specToTypes(file("client/openapi.json"))).toBe(file("client/src/api.d.ts"));
  });

  it("change when the document changes, so the check above can fail", async () => {
    const doc = JSON.parse(file("client/openapi.json"));
    doc.paths["/v1/made-up"] = { get: { responses: { 200: { description: "OK" } } } };
    expect(await specToTypes(JSON.stringify(doc))).not.toBe(file("client/src/api.d.ts"));
  });

  it("list in docs/api.md every operation of client/openapi.json (else: npm run client:generate)", () => {
    const doc = file("docs/api.md");
    expect(withOperations(doc, file("client/openapi.json"))).toBe(doc);
    expect(doc).toContain("| `POST /v1/events/{id}/holds` | holds | bearer | 201 |");
  });
});
