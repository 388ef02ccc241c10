import { describe, expect, it } from "vitest";
import { parseConfig, type Env } from "../../src/env";

const env = (vars: Partial<Record<string, string>>) => ({ JWT_ISSUER: "https://evently.example", JWT_AUDIENCE: "evently-api", ...vars }) as unknown as Env;

describe("CORS_ORIGINS", () => {
  it("allows no origin when it is empty or unset", () => {
    expect(parseConfig(env({ CORS_ORIGINS: "" })).corsOrigins).toEqual([]);
    expect(parseConfig(env({})).corsOrigins).toEqual([]);
  });

  it("lists the origins in the form browsers send them", () => {
    expect(parseConfig(env({ CORS_ORIGINS: " https://app.example/ ,http://localhost:5173,, https://Admin.Example:443" })).corsOrigins).toEqual([
      "https://app.example",
      "http://localhost:5173",
      "https://admin.example",
    ]);
  });

  it("refuses a value that is not an origin, so a typo fails loudly instead of opening or closing CORS", () => {
    expect(() => parseConfig(env({ CORS_ORIGINS: "app.example" }))).toThrow(/CORS_ORIGINS/);
  });
});
