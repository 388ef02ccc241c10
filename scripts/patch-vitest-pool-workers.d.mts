/** Applies scripts/patch-vitest-pool-workers.mjs's patch under `root` (default: the working directory). */
export function patchVitestPoolWorkers(root?: string): "patched" | "already" | "fixed-upstream" | "absent";
