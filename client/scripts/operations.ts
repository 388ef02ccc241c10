// The table of every operation in docs/api.md, made from the OpenAPI document by
// `npm run client:generate` (between the markers below), so the list cannot drift from the API.
export const OPEN = "<!-- operations: written by npm run client:generate from client/openapi.json -->";
export const CLOSE = "<!-- /operations -->";

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: unknown[];
  responses?: Record<string, unknown>;
}

/** The first sentence of a summary or description, on one line, with table pipes escaped. */
function firstSentence(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  const end = one.search(/\.(\s|$)/);
  return (end >= 0 ? one.slice(0, end + 1) : one).replace(/\|/g, "\\|");
}

export function operationsTable(spec: string): string {
  const doc = JSON.parse(spec) as { paths: Record<string, Record<string, Operation>> };
  const rows = ["| operation | area | token | success | errors | what |", "|---|---|---|---|---|---|"];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const codes = Object.keys(op.responses ?? {});
      const success = codes.filter((c) => /^[123]/.test(c)).join(", ");
      const errors = codes.filter((c) => /^[45]/.test(c)).join(", ");
      const token = op.security?.length ? "bearer" : "-";
      rows.push(`| \`${method.toUpperCase()} ${path}\` | ${op.tags?.join(", ") ?? ""} | ${token} | ${success} | ${errors} | ${firstSentence(op.summary ?? op.description ?? "")} |`);
    }
  }
  return rows.join("\n");
}

/** `doc` (the text of docs/api.md) with the operations section replaced by the table of `spec`. */
export function withOperations(doc: string, spec: string): string {
  const start = doc.indexOf(OPEN);
  const end = doc.indexOf(CLOSE);
  if (start < 0 || end < start) throw new Error(`docs/api.md has no ${OPEN} … ${CLOSE} section`);
  return `${doc.slice(0, start + OPEN.length)}\n${operationsTable(spec)}\n${doc.slice(end)}`;
}
