// Lets Node import the Worker's app to read its OpenAPI document without a runtime: every
// `cloudflare:*` module resolves to empty stand-ins. Nothing here runs a request beyond /openapi.json.
import { register } from "node:module";

const stub = `export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
export class WorkerEntrypoint {} export class RpcTarget {} export class EmailMessage {} export const env = {};`;
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith("cloudflare:")) return { url: ${JSON.stringify("data:text/javascript," + encodeURIComponent(stub))}, shortCircuit: true };
  return next(specifier, context);
}`;
register("data:text/javascript," + encodeURIComponent(hooks));
