// Which webhook URLs may be registered. An endpoint must be https on a public address in every
// environment: a private or loopback address would let an organizer make the Worker probe internal
// networks. The one exception is local: WEBHOOK_ALLOW_LOOPBACK=on (tests and `npm run dev`, never
// wrangler.toml, and ignored in a production Worker) lets http on loopback through, for a receiver
// on the same machine. (A public name that resolves to a private address is not caught here;
// Workers' fetch cannot reach private networks in production anyway.)

const PRIVATE_V4: [number, number][] = [
  [0x00000000, 8], [0x0a000000, 8], [0x64400000, 10], [0x7f000000, 8], [0xa9fe0000, 16],
  [0xac100000, 12], [0xc0000000, 24], [0xc0a80000, 16], [0xc6120000, 15], [0xe0000000, 4], [0xf0000000, 4],
];

function v4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

const privateV4 = (n: number) => PRIVATE_V4.some(([base, bits]) => (n & (~0 << (32 - bits))) >>> 0 === base);

/** The eight 16-bit groups of an IPv6 literal (a trailing dotted IPv4 allowed), or null. */
export function v6Groups(host: string): number[] | null {
  let text = host;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4(dotted[2]);
    if (n === null) return null;
    text = `${dotted[1]}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return all.map((g) => parseInt(g, 16));
}

/** Whether an IPv6 address is anything but a plain global unicast one: embedded IPv4 forms count as refused. */
function privateV6(g: number[]): boolean {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // ::/96 (unspecified, loopback, IPv4-compatible), ::ffff:0:0/96 (mapped), ::ffff:0:0:0/96 (translated):
  // the embedded IPv4 reaches whatever that address is, so the whole of each is refused.
  if (zeros(0, 5) && (g[5] === 0 || g[5] === 0xffff)) return true;
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return true;
  // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64), 2002::/16 (6to4), 2001::/32 (Teredo): IPv4 translated.
  if (g[0] === 0x64 && g[1] === 0xff9b) return true;
  if (g[0] === 0x2002) return true;
  if (g[0] === 0x2001 && g[1] === 0) return true;
  // 2001:db8::/32 documentation, 100::/64 discard.
  if (g[0] === 0x2001 && g[1] === 0xdb8) return true;
  if (g[0] === 0x100 && zeros(1, 4)) return true;
  // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
  return g[0] >= 0xfc00;
}

const isLoopback = (host: string) => {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const n = v4(h);
  if (n !== null) return n >>> 24 === 127;
  const g = h.includes(":") ? v6Groups(h) : null;
  return !!g && g.slice(0, 7).every((x) => x === 0) && g[7] === 1;
};

export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal") || !host.includes(".") && !host.includes(":")) return true;
  const n = v4(host);
  if (n !== null) return privateV4(n);
  if (host.includes(":")) {
    const g = v6Groups(host);
    // Not an address the parser would hand over: refuse rather than guess.
    return g === null || privateV6(g);
  }
  return false;
}

export interface WebhookUrlPolicy {
  /** http on a loopback address accepted: local receivers of tests and `npm run dev` only. */
  allowLoopback: boolean;
}

/** The policy of this Worker: strict unless a non-production Worker says WEBHOOK_ALLOW_LOOPBACK=on. */
export function webhookUrlPolicy(env: { ENVIRONMENT?: string; WEBHOOK_ALLOW_LOOPBACK?: string }): WebhookUrlPolicy {
  return { allowLoopback: env.WEBHOOK_ALLOW_LOOPBACK === "on" && env.ENVIRONMENT !== "production" };
}

/** Null when the URL may be used; otherwise why not. */
export function refuseWebhookUrl(raw: string, policy: WebhookUrlPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed";
  if (url.protocol !== "https:" && url.protocol !== "http:") return "only https URLs";
  if (policy.allowLoopback && isLoopback(url.hostname)) return null;
  if (url.protocol !== "https:") return "endpoints must use https";
  if (isPrivateHost(url.hostname)) return "private, loopback and link-local addresses are refused";
  return null;
}

/**
 * What the organizer's delivery log says about a failed attempt: a class, never the raw error, which
 * would tell a prober whether a port is open or what banner answered (the raw error goes to the logs).
 */
export type DeliveryErrorClass = "http_3xx" | "http_4xx" | "http_5xx" | "http_other" | "timeout" | "connect_failed" | "url_refused";

export function deliveryErrorClass(r: { statusCode?: number | null; error?: unknown }): DeliveryErrorClass {
  if (typeof r.statusCode === "number") {
    if (r.statusCode >= 300 && r.statusCode < 400) return "http_3xx";
    if (r.statusCode >= 400 && r.statusCode < 500) return "http_4xx";
    if (r.statusCode >= 500 && r.statusCode < 600) return "http_5xx";
    return "http_other";
  }
  const e = r.error as { name?: string } | undefined;
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timeout";
  return "connect_failed";
}
