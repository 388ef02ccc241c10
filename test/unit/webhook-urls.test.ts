import { describe, expect, it } from "vitest";
import { isPrivateHost, refuseWebhookUrl, webhookUrlPolicy } from "../../src/services/webhook-urls";
import { deliveryErrorClass } from "../../src/services/webhook-urls";

// Each host as the WHATWG URL parser hands it over (`new URL(u).hostname`), so a form the parser
// normalizes (`[::127.0.0.1]` becomes `[::7f00:1]`, `0x7f.1` becomes `127.0.0.1`) is covered too.
const host = (u: string) => new URL(u).hostname;
const strict = { allowLoopback: false };

describe("webhook URLs: which addresses are refused", () => {
  it.each([
    ["IPv4 loopback", "https://127.0.0.1/"],
    ["IPv4 in hex", "https://0x7f.1/"],
    ["IPv4 private", "https://10.1.2.3/"],
    ["cloud metadata", "https://169.254.169.254/"],
    ["IPv6 loopback", "https://[::1]/"],
    ["IPv6 unspecified", "https://[::]/"],
    ["IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/"],
    ["IPv4-mapped in hex", "https://[::ffff:7f00:1]/"],
    ["IPv4-compatible loopback", "https://[::127.0.0.1]/"],
    ["IPv4-compatible in hex", "https://[::7f00:1]/"],
    ["IPv4-compatible private", "https://[::a00:1]/"],
    ["NAT64 (64:ff9b::/96) of loopback", "https://[64:ff9b::7f00:1]/"],
    ["NAT64 of a private address", "https://[64:ff9b::10.0.0.1]/"],
    ["local-use NAT64 (64:ff9b:1::/48)", "https://[64:ff9b:1::a00:1]/"],
    ["6to4 (2002::/16) of loopback", "https://[2002:7f00:1::1]/"],
    ["6to4 of a public address", "https://[2002:808:808::1]/"],
    ["Teredo (2001::/32)", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"],
    ["site-local (fec0::/10)", "https://[fec0::1]/"],
    ["site-local, upper end", "https://[feff::1]/"],
    ["unique local (fc00::/7)", "https://[fd12:3456::1]/"],
    ["link-local (fe80::/10)", "https://[fe80::1]/"],
    ["multicast (ff00::/8)", "https://[ff02::1]/"],
    ["documentation (2001:db8::/32)", "https://[2001:db8::1]/"],
    ["IPv4-translated (::ffff:0:0:0/96)", "https://[::ffff:0:7f00:1]/"],
    ["localhost", "https://localhost/"],
    ["a single label", "https://intranet/"],
  ])("refuses %s (%s)", (_name, url) => {
    expect(isPrivateHost(host(url))).toBe(true);
    expect(refuseWebhookUrl(url, strict)).toMatch(/private/);
  });

  it.each([
    ["a public name", "https://hooks.example.com/x"],
    ["a public IPv4", "https://8.8.8.8/x"],
    ["just outside 172.16/12", "https://172.32.0.1/x"],
    ["a public IPv6", "https://[2606:4700::1111]/x"],
    ["a public IPv6 that starts with zeros", "https://[2a00::1]/x"],
  ])("accepts %s (%s)", (_name, url) => {
    expect(isPrivateHost(host(url))).toBe(false);
    expect(refuseWebhookUrl(url, strict)).toBeNull();
  });
});

describe("webhook URLs: when the filter applies", () => {
  it("is on in every environment: staging, test and an unset ENVIRONMENT refuse http and private hosts", () => {
    for (const ENVIRONMENT of ["production", "staging", "test", "development", undefined]) {
      const policy = webhookUrlPolicy({ ENVIRONMENT });
      expect(refuseWebhookUrl("http://hooks.example.com/x", policy), String(ENVIRONMENT)).toMatch(/https/);
      expect(refuseWebhookUrl("https://10.0.0.8/x", policy), String(ENVIRONMENT)).toMatch(/private/);
      expect(refuseWebhookUrl("http://127.0.0.1:9999/x", policy), String(ENVIRONMENT)).not.toBeNull();
    }
  });

  it("lets loopback (http too) through only where WEBHOOK_ALLOW_LOOPBACK=on and the Worker is not production", () => {
    const local = webhookUrlPolicy({ ENVIRONMENT: "test", WEBHOOK_ALLOW_LOOPBACK: "on" });
    expect(refuseWebhookUrl("http://127.0.0.1:9999/hook", local)).toBeNull();
    expect(refuseWebhookUrl("http://[::1]:9999/hook", local)).toBeNull();
    expect(refuseWebhookUrl("http://localhost:9999/hook", local)).toBeNull();
    // Loopback only: the rest of the private ranges stay refused, and http elsewhere too.
    expect(refuseWebhookUrl("https://10.0.0.8/hook", local)).toMatch(/private/);
    expect(refuseWebhookUrl("https://[::7f00:1]/hook", local)).toMatch(/private/);
    expect(refuseWebhookUrl("http://hooks.example.com/x", local)).toMatch(/https/);
    const production = webhookUrlPolicy({ ENVIRONMENT: "production", WEBHOOK_ALLOW_LOOPBACK: "on" });
    expect(refuseWebhookUrl("http://127.0.0.1:9999/hook", production)).not.toBeNull();
  });

  it("refuses credentials in the URL and other schemes", () => {
    expect(refuseWebhookUrl("https://u:p@example.com/", strict)).toMatch(/credentials/);
    expect(refuseWebhookUrl("ftp://example.com/", strict)).toMatch(/https/);
    expect(refuseWebhookUrl("not a url", strict)).toMatch(/not a URL/);
  });
});

describe("what an organizer sees of a failed delivery", () => {
  it("is a status class, never the raw error (no probing oracle)", () => {
    expect(deliveryErrorClass({ statusCode: 503 })).toBe("http_5xx");
    expect(deliveryErrorClass({ statusCode: 404 })).toBe("http_4xx");
    expect(deliveryErrorClass({ statusCode: 302 })).toBe("http_3xx");
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(deliveryErrorClass({ error: timeout })).toBe("timeout");
    expect(deliveryErrorClass({ error: new TypeError("Network connection lost. (connect ECONNREFUSED 10.0.0.8:22: banner SSH-2.0)") })).toBe("connect_failed");
  });
});
