import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import type { Admission } from "./contract";
import { admit, CLOSED, record, type Breaker, type BreakerPolicy } from "./logic";

/**
 * One object per payment provider (reached by name), so every isolate that charges cards sees the
 * same breaker: module memory would give each isolate its own and hammer a provider that is down.
 */
export class CircuitBreaker extends DurableObject<Env> {
  private breaker: Breaker = CLOSED;
  private readonly policy: BreakerPolicy;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.policy = {
      failureThreshold: positive(env.PAYMENT_BREAKER_FAILURES, 5),
      cooldownMs: positive(env.PAYMENT_BREAKER_COOLDOWN_SECONDS, 10) * 1000,
      probeLeaseMs: 30_000,
    };
    ctx.blockConcurrencyWhile(async () => {
      this.breaker = (await ctx.storage.get<Breaker>("breaker")) ?? CLOSED;
    });
  }

  async acquire(): Promise<Admission> {
    const { breaker, admission } = admit(this.breaker, this.policy, Date.now());
    await this.save(breaker);
    return admission;
  }

  async report(success: boolean): Promise<Breaker> {
    await this.save(record(this.breaker, this.policy, success, Date.now()));
    return this.breaker;
  }

  async current(): Promise<Breaker> {
    return this.breaker;
  }

  private async save(next: Breaker): Promise<void> {
    if (next === this.breaker) return;
    const changedState = next.state !== this.breaker.state;
    this.breaker = next;
    await this.ctx.storage.put("breaker", next);
    if (changedState) console.log(JSON.stringify({ level: "warn", msg: "circuit breaker changed state", breaker: this.ctx.id.name, state: next.state }));
  }
}

function positive(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
