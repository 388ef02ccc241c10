import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import committed from "../../client/openapi.json";

// The typed client (client/) is generated from client/openapi.json; this keeps that file the very
// document the Worker serves, so the client cannot drift from the API unnoticed.
describe("the typed client's OpenAPI document", () => {
  it("is the document the Worker serves at /openapi.json (else: npm run client:generate)", async () => {
    const res = await exports.default.fetch(new Request("http://evently.test/openapi.json"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(committed);
  });
});
