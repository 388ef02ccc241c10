/**
 * Active holds by expiry, earliest first (ties by hold id, as the store's key order had them, so
 * holds made together expire in the order they were made): a binary min-heap with lazy deletion. A hold that ended
 * or was pushed again with another expiry leaves a stale entry behind; `due` skips entries that no
 * longer match the hold (the caller's `current` answers a hold's expiry now, or null).
 */
const before = (a: { at: number; id: string }, b: { at: number; id: string }) => a.at < b.at || (a.at === b.at && a.id < b.id);

export class ExpiryQueue {
  private heap: { at: number; id: string }[] = [];

  clear(): void {
    this.heap = [];
  }

  get size(): number {
    return this.heap.length;
  }

  push(at: number, id: string): void {
    const h = this.heap;
    h.push({ at, id });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  /** The earliest expiry still current, dropping stale entries on the way; null when none. */
  peek(current: (id: string) => number | null): number | null {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (current(top.id) === top.at) return top.at;
      this.pop();
    }
    return null;
  }

  /** Removes and answers up to `limit` current entries due at or before `now`, earliest first. */
  due(now: number, limit: number, current: (id: string) => number | null): string[] {
    const out: string[] = [];
    while (out.length < limit) {
      const at = this.peek(current);
      if (at === null || at > now) break;
      out.push(this.pop().id);
    }
    return out;
  }

  private pop(): { at: number; id: string } {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
