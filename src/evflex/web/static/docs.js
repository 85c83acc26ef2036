/* Renders /openapi.json as plain tables: every asset is local (no CDN). */
"use strict";

function esc(text) {
  const d = document.createElement("div");
  d.textContent = text == null ? "" : String(text);
  return d.innerHTML;
}

function schemaName(s) {
  if (!s) return "";
  if (s.$ref) return s.$ref.split("/").pop();
  if (s.anyOf) return s.anyOf.map(schemaName).join(" | ");
  if (s.type === "array") return `${schemaName(s.items)}[]`;
  if (s.type === "object" && s.additionalProperties) return `{string: ${schemaName(s.additionalProperties)}}`;
  return s.type || "";
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  let html = `<p class="description">${esc(spec.info.description)}</p>`;
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      html += `<h2>${esc(method.toUpperCase())} ${esc(path)}</h2><p>${esc(op.summary || "")}</p>`;
      if (op.description) html += `<p class="hint">${esc(op.description)}</p>`;
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) html += `<p>Body: <code>${esc(schemaName(body.schema))}</code></p>`;
      for (const p of op.parameters || []) {
        html += `<p>Parameter <code>${esc(p.name)}</code> in ${esc(p.in)}: ${esc(schemaName(p.schema))}</p>`;
      }
      html += `<p>Responses: ${Object.entries(op.responses).map(([c, r]) => `${esc(c)} ${esc(r.description)}`).join("; ")}</p>`;
    }
  }
  html += "<h2>Schemas</h2>";
  for (const [name, s] of Object.entries((spec.components || {}).schemas || {})) {
    html += `<h3 id="${esc(name)}">${esc(name)}</h3>`;
    if (s.description) html += `<p class="hint">${esc(s.description)}</p>`;
    html += `<table class="checks"><tr><th>field</th><th>type</th><th>default</th><th>description</th></tr>`;
    for (const [f, p] of Object.entries(s.properties || {})) {
      html += `<tr><td><code>${esc(f)}</code>${(s.required || []).includes(f) ? " *" : ""}</td>` +
        `<td>${esc(schemaName(p))}</td><td>${esc(p.default === undefined ? "" : JSON.stringify(p.default))}</td>` +
        `<td>${esc(p.description || "")}</td></tr>`;
    }
    html += "</table>";
  }
  document.getElementById("api").innerHTML = html;
}

main().catch((err) => { document.getElementById("api").textContent = `cannot load the API: ${err}`; });
