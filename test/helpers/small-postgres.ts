// A throwaway PostgreSQL server with a small max_connections, for the busy-database test: started
// from the machine's own server binaries on a free port, removed afterwards. null where the
// machine has no PostgreSQL binaries (a fresh machine on the embedded database): the caller skips.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

function binDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  for (const v of readdirSync(root).sort().reverse()) if (existsSync(join(root, v, "bin", "initdb"))) return join(root, v, "bin");
  return null;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** Whether this machine has PostgreSQL server binaries to start a throwaway server with. */
export const hasPostgresBinaries = (): boolean => binDir() !== null;

export async function startSmallPostgres(maxConnections: number): Promise<{ url: string; stop: () => void } | null> {
  const bin = binDir();
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), "evently-pg-small-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  // initdb and postgres refuse to run as root: run them as the postgres user there.
  const asUser = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(asUser[0] ?? cmd, asUser.length ? [...asUser.slice(1), cmd, ...args] : args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  run(join(bin, "initdb"), ["-D", data, "--auth=trust", "-U", "postgres", "--no-sync"]);
  const port = await freePort();
  run(join(bin, "pg_ctl"), ["-D", data, "-w", "-l", join(dir, "log"), "-o", `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=${maxConnections} -c superuser_reserved_connections=0 -c fsync=off`, "start"]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        execFileSync(asUser[0] ?? join(bin, "pg_ctl"), asUser.length ? [...asUser.slice(1), join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"] : ["-D", data, "-m", "immediate", "stop"], { stdio: "ignore" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
