// Every Durable Object class, re-exported by src/index.ts (wrangler.toml binds them by class name,
// so these names never change: a rename would be a migration of deployed objects).
export { EventInventory } from "./inventory/object";
export { UserSessions } from "./user-sessions/object";
export { SandboxCardNetwork } from "./sandbox-card-network/object";
export { CircuitBreaker } from "./circuit-breaker/object";
export { LiveRelay } from "./live-relay/object";
export { CheckinDesk } from "./checkin-desk/object";
export { WaitingRoom } from "./onsale/room-object";
export { QueueShard } from "./onsale/shard-object";
