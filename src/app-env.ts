// The Hono context of every route: the Worker's bindings and the variables middleware sets per request.
import type { AuthUser } from "./auth/tokens";
import type { ScannerClaims } from "./auth/scanner-tokens";
import type { Database } from "./db/client";
import type { Config, Env } from "./env";

export interface Vars {
  requestId: string;
  config: Config;
  /** Opens this request's Pool on first use; it is closed through waitUntil when the request ends. */
  db: () => Database;
  /** Work that goes on after the answer with this request's Pool (a booking's first saga run): the Pool closes after it. */
  keep: (work: Promise<unknown>) => void;
  /** Set by requireUser (always present behind it); behind optionalUser it may be undefined. */
  user: AuthUser;
  /** Set instead of `user` when a check-in route was called with a scanner token. */
  scanner?: ScannerClaims;
}

export interface AppEnv {
  Bindings: Env;
  Variables: Vars;
}
