import { createApp } from "./app";
import type { Env } from "./env";
import { handleBatch } from "./queues/consumer";
import { runScheduled } from "./services/maintenance";

export { EventInventory } from "../durable-objects/event-inventory";
export { UserSessions } from "../durable-objects/user-sessions";
export { SandboxCardNetwork } from "../durable-objects/sandbox-card-network";
export { CircuitBreaker } from "../durable-objects/circuit-breaker";
export { LiveRelay } from "../durable-objects/live-relay";
export { CheckinDesk } from "../durable-objects/checkin-desk";
export { WaitingRoom } from "../durable-objects/waiting-room";
export { QueueShard } from "../durable-objects/queue-shard";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => handleBatch(batch, env, ctx),
  scheduled: (controller, env, ctx) => {
    ctx.waitUntil(runScheduled(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env>;
