import { createApp } from "./app";
import type { Env } from "./env";
import { handleBatch } from "./queues/consumer";
import { runScheduled } from "./jobs/scheduled";

export {
  CheckinDesk,
  CircuitBreaker,
  EventInventory,
  LiveRelay,
  QueueShard,
  SandboxCardNetwork,
  UserSessions,
  WaitingRoom,
} from "../durable-objects/index";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => handleBatch(batch, env, ctx),
  scheduled: (controller, env, ctx) => {
    ctx.waitUntil(runScheduled(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env>;
