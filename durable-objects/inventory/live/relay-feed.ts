import type { LiveRelayRpc } from "../../live-relay/contract";

const RELAYS_KEY = "live:relays";

/**
 * The inventory's side of the fan-out: the set of relays that serve some of its watchers, each fed
 * every delta in one call. The set is stored (a restarted inventory keeps feeding them); a relay
 * that answers it has no sockets left is dropped, unless it registered again meanwhile (a new
 * watcher arrived while the answer was on its way).
 */
export class RelayFeed {
  private names: Set<string> | null = null;
  /** Bumped by every registration, so a stale "no sockets" answer cannot drop a relay that just got one. */
  private readonly epochs = new Map<string, number>();
  private readonly stubs = new Map<string, LiveRelayRpc>();
  private epoch = 0;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly namespace: { get(id: DurableObjectId): unknown; idFromName(name: string): DurableObjectId },
  ) {}

  private load(): Set<string> {
    return (this.names ??= new Set(this.storage.kv.get<string[]>(RELAYS_KEY) ?? []));
  }

  private save(): void {
    this.storage.kv.put(RELAYS_KEY, [...this.load()]);
  }

  get size(): number {
    return this.load().size;
  }

  register(name: string): void {
    this.epochs.set(name, ++this.epoch);
    if (this.load().has(name)) return;
    this.names!.add(name);
    this.save();
  }

  /** Sends one delta frame to every relay; not awaited: the inventory's thread goes back to holds. */
  feed(version: number, frame: string): void {
    for (const name of this.load()) this.deliver(name, version, frame, true);
  }

  /**
   * Sends a frame meant for one user's sockets to every relay (a relay knows which of its sockets
   * are that user's); answers how many sockets got it. A relay that fails is asked once more on a
   * fresh stub (as `deliver` does), then counted as none.
   */
  async pushToUser(userId: string, frame: string): Promise<number> {
    const counts = await Promise.all(
      [...this.load()].map(async (name) => {
        for (let attempt = 0; attempt < 2; attempt++) {
          const stub = this.stub(name);
          try {
            return (await stub.pushToUser(userId, frame)).sockets;
          } catch {
            if (this.stubs.get(name) === stub) this.stubs.delete(name);
          }
        }
        return 0;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  private stub(name: string): LiveRelayRpc {
    let stub = this.stubs.get(name);
    if (!stub) this.stubs.set(name, (stub = this.namespace.get(this.namespace.idFromName(name)) as unknown as LiveRelayRpc));
    return stub;
  }

  private deliver(name: string, version: number, frame: string, retry: boolean): void {
    const epoch = this.epochs.get(name);
    const stub = this.stub(name);
    stub.deliver(version, frame).then(
      (r) => {
        if (r.sockets === 0 && this.epochs.get(name) === epoch) this.drop(name);
      },
      () => {
        // The stub of a relay that was reset stays broken: once more on a new one, so watchers who
        // reconnected meanwhile are not left waiting for the next delta (a late frame is skipped there).
        if (this.stubs.get(name) === stub) this.stubs.delete(name);
        if (retry) this.deliver(name, version, frame, false);
      },
    );
  }

  private drop(name: string): void {
    this.epochs.delete(name);
    this.stubs.delete(name);
    if (this.load().delete(name)) this.save();
  }
}
