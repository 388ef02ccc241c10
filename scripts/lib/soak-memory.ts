// The soak's memory check. workerd under `wrangler dev` grows its RSS with every request even for
// a Worker that only answers "ok" (about 13-19 KiB per request here, not levelling off within
// 12,000 requests), so "RSS after / RSS after warm-up" measures the local runtime, not us. The
// check compares the app's growth per request with a no-op Worker's, measured in the same run over
// the same number of requests from the same warm-up point.
import type { LedgerRow } from "./soak-ledger";

export interface RssGrowth {
  /** Summed VmRSS (KiB) of the workerd processes after warm-up, and after the run. */
  warmKb: number;
  afterKb: number;
  /** Requests sent between the two readings. */
  requests: number;
  /** The same two readings for wrangler's proxy process alone, which runs no code of ours. */
  proxy?: { warmKb: number; afterKb: number };
  /** Live objects in the Worker's isolate, from a heap snapshot (KiB; null when the inspector did not answer). */
  heap?: { warmKb: number | null; afterKb: number | null };
}

/** The app may grow this many times the no-op's KiB per request… */
export const MEMORY_FACTOR = 1.2;
/**
 * …plus this many KiB per request: the spread between two no-op runs over the same requests on
 * this machine (docs/changelog.md, Soak), so that noise alone cannot fail the check.
 */
export const MEMORY_ALLOWANCE_KB_PER_REQUEST = 2;

const mib = (kb: number) => (kb / 1024).toFixed(0);
const perRequest = (g: RssGrowth) => (g.afterKb - g.warmKb) / Math.max(1, g.requests);
const describe = (g: RssGrowth) =>
  `VmRSS ${mib(g.warmKb)} -> ${mib(g.afterKb)} MiB (${g.afterKb >= g.warmKb ? "+" : ""}${mib(g.afterKb - g.warmKb)} MiB, ${(g.afterKb / g.warmKb).toFixed(2)}x) over ${g.requests} requests = ${perRequest(g).toFixed(1)} KiB/request`;

/**
 * Passes when the live JS objects of the app's isolate (heap snapshots; what a leak of ours would
 * grow) or its RSS stay within MEMORY_FACTOR of their warm-up level, or when its RSS growth per
 * request stays within MEMORY_FACTOR x the no-op reference's plus MEMORY_ALLOWANCE_KB_PER_REQUEST.
 * Without a usable reference (it did not start, or saw other request counts) only the first holds.
 */
export function memoryCheck(app: RssGrowth, reference: RssGrowth | { error: string }): LedgerRow {
  const check = `workerd memory: live JS objects (or RSS) within ${MEMORY_FACTOR}x of warm-up, or RSS growth per request within ${MEMORY_FACTOR}x a no-op Worker's (+${MEMORY_ALLOWANCE_KB_PER_REQUEST} KiB/request)`;
  if (app.warmKb <= 0 || app.afterKb <= 0) return { check, ok: false, evidence: "no workerd process found for the app" };
  // What a leak of ours would grow: the objects alive in the isolate (the Worker's and the Durable
  // Objects' state), read from heap snapshots after warm-up and after the run.
  const heapWithinWarm = !!app.heap && app.heap.warmKb !== null && app.heap.afterKb !== null && app.heap.afterKb <= MEMORY_FACTOR * app.heap.warmKb;
  const withinWarm = app.afterKb <= MEMORY_FACTOR * app.warmKb || heapWithinWarm;
  const heap = app.heap
    ? `, live JS objects in the Worker's isolate ${app.heap.warmKb === null ? "?" : (app.heap.warmKb / 1024).toFixed(1)} -> ${app.heap.afterKb === null ? "?" : (app.heap.afterKb / 1024).toFixed(1)} MiB`
    : "";
  const appText = `app ${describe(app)}${heap}`;
  if ("error" in reference) return { check, ok: withinWarm, evidence: `${appText}; no-op reference: ${reference.error}` };
  if (reference.warmKb <= 0 || reference.afterKb <= 0) return { check, ok: withinWarm, evidence: `${appText}; no-op reference: no workerd process found` };
  if (reference.requests !== app.requests) {
    return { check, ok: withinWarm, evidence: `${appText}; no-op reference saw ${reference.requests} requests, not the same number` };
  }
  const limit = MEMORY_FACTOR * Math.max(0, perRequest(reference)) + MEMORY_ALLOWANCE_KB_PER_REQUEST;
  const ok = withinWarm || perRequest(app) <= limit;
  // The proxy process is the same code in both runs: how far apart it lands shows how much of the
  // runtime's growth depends on the traffic rather than on the Worker.
  const proxies = app.proxy?.warmKb && reference.proxy?.warmKb
    ? `; wrangler's proxy process alone (no code of ours): app run ${perRequest({ ...app.proxy, requests: app.requests }).toFixed(1)}, no-op run ${perRequest({ ...reference.proxy, requests: reference.requests }).toFixed(1)} KiB/request`
    : "";
  return { check, ok, evidence: `${appText}; no-op reference ${describe(reference)}; limit ${limit.toFixed(1)} KiB/request${proxies}` };
}
