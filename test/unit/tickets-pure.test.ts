import { describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { csvField, csvLine } from "../../src/lib/csv";
import { signatureHeader } from "../../src/services/webhook-signature";
import { createHmac } from "node:crypto";
import { CompactSign, exportJWK, generateKeyPair } from "jose";
import { signTicketCode, verifyTicketCode } from "../../src/services/ticket-codes";

describe("CSV fields (RFC 4180)", () => {
  it("quotes only what needs it and round-trips through a CSV parser", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField(null)).toBe("");
    const rows = [["a,b", 'q"uote', "multi\nline\r\nname", "", "  spaced  ", "Ann-Marie"]];
    expect(parse(rows.map(csvLine).join(""), { relax_column_count: false })).toEqual(rows);
  });

  it("keeps a spreadsheet from running a cell as a formula, and leaves numbers alone", () => {
    for (const evil of ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\r=1"]) {
      const [[cell]] = parse(csvLine([evil]));
      expect(cell).toBe(`'${evil}`);
    }
    expect(csvLine([-5, 12.5, new Date(0)])).toBe("-5,12.5,1970-01-01T00:00:00.000Z\r\n");
  });
});

describe("webhook signatures", () => {
  it("are hex HMAC-SHA256 of \"t.body\" as any receiver computes it", async () => {
    const body = '{"id":"d1"}';
    const header = await signatureHeader("whsec_test", body, 1_700_000_000);
    const expected = createHmac("sha256", "whsec_test").update(`1700000000.${body}`).digest("hex");
    expect(header).toBe(`t=1700000000,v1=${expected}`);
  });
});

describe("ticket codes", () => {
  const keysOf = async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    return { kid: "tk_test", publicJwk: await exportJWK(pair.publicKey), privateKey: pair.privateKey, publicKey: pair.publicKey };
  };

  it("verify with the event's key; altered, re-signed or mistyped codes do not", async () => {
    const keys = await keysOf();
    const other = await keysOf();
    const code = await signTicketCode(keys, { tid: "t-1", eid: "e-1" });
    expect(await verifyTicketCode(keys.publicKey, code)).toEqual({ tid: "t-1", eid: "e-1" });
    expect(await signTicketCode(keys, { tid: "t-1", eid: "e-1" })).not.toBe(code);
    expect(await verifyTicketCode(other.publicKey, code)).toBeNull();
    const [h, , sig] = code.split(".");
    const swapped = Buffer.from(JSON.stringify({ v: 1, tid: "t-2", eid: "e-1", n: "x" })).toString("base64url");
    expect(await verifyTicketCode(keys.publicKey, `${h}.${swapped}.${sig}`)).toBeNull();
    const untyped = await new CompactSign(Buffer.from(JSON.stringify({ v: 1, tid: "t-1", eid: "e-1" }))).setProtectedHeader({ alg: "EdDSA" }).sign(keys.privateKey);
    expect(await verifyTicketCode(keys.publicKey, untyped)).toBeNull();
    expect(await verifyTicketCode(keys.publicKey, "x".repeat(2000))).toBeNull();
  });
});
