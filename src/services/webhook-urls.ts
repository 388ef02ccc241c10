// Which webhook URLs may be registered. In production an endpoint must be https on a public host:
// a private or loopback address would let an organizer make the Worker probe internal networks.
// (A public name that resolves to a private address is not caught here; Workers' fetch cannot
// reach private networks in production anyway.)

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

export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal") || !host.includes(".") && !host.includes(":")) return true;
  const n = v4(host);
  if (n !== null) return PRIVATE_V4.some(([base, bits]) => (n & (~0 << (32 - bits))) >>> 0 === base);
  if (host.includes(":")) {
    if (host === "::" || host === "::1") return true;
    if (/^f[cd]/.test(host) || /^fe[89ab]/.test(host)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped) return isPrivateHost(mapped[1]);
    if (/^::ffff:/.test(host)) return true;
  }
  return false;
}

/** Null when the URL may be used; otherwise why not. */
export function refuseWebhookUrl(raw: string, production: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed";
  if (url.protocol !== "https:" && url.protocol !== "http:") return "only http(s) URLs";
  if (!production) return null;
  if (url.protocol !== "https:") return "production endpoints must use https";
  if (isPrivateHost(url.hostname)) return "private, loopback and link-local addresses are refused";
  return null;
}
