import { router } from "../lib/openapi";

// Self-contained (no CDN): lists every operation of /openapi.json with its schemas.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evently API</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}
h2{border-bottom:1px solid #ddd}.op{margin:1rem 0;padding:.5rem 1rem;border:1px solid #ddd;border-radius:6px}
.m{font-weight:700;text-transform:uppercase;margin-right:.5rem}pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:13px}
details summary{cursor:pointer}</style></head>
<body><h1>Evently API</h1><p>Generated from <a href="/openapi.json">/openapi.json</a>.</p><main id="ops">Loading…</main>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  const main=document.getElementById('ops');main.textContent='';
  const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
  for(const [path,ops] of Object.entries(doc.paths||{})){
    for(const [method,op] of Object.entries(ops)){
      const div=document.createElement('section');div.className='op';
      div.innerHTML='<div><span class="m">'+esc(method)+'</span><code>'+esc(path)+'</code> '+esc(op.summary||'')+'</div>'+
        '<details><summary>details</summary><pre>'+esc(JSON.stringify({parameters:op.parameters,requestBody:op.requestBody,responses:op.responses},null,2))+'</pre></details>';
      main.appendChild(div);
    }
  }
  const s=document.createElement('details');s.innerHTML='<summary>schemas</summary><pre>'+esc(JSON.stringify(doc.components,null,2))+'</pre>';main.appendChild(s);
});
</script></body></html>`;

// Looser than the API's `default-src 'none'`: the page runs its own inline script and style and fetches /openapi.json.
const PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const docs = router().get("/docs", (c) => c.html(PAGE, 200, { "Content-Security-Policy": PAGE_CSP }));
