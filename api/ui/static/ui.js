// The web page's few scripts: the write token (kept in this tab's sessionStorage, sent only as an
// Authorization header, never in a URL), paste/upload with Check and Store, delete, graph zoom, tree toggles.
"use strict";

const TOKEN_KEY = "sortai-write-token";
const FORMATS = {yaml: "application/yaml", json: "application/json", jsonld: "application/ld+json",
                 turtle: "text/turtle", ntriples: "application/n-triples", rdfxml: "application/rdf+xml"};
const SUFFIXES = {yaml: "yaml", yml: "yaml", json: "json", jsonld: "jsonld", ttl: "turtle", nt: "ntriples",
                  rdf: "rdfxml", owl: "rdfxml", xml: "rdfxml"};
const DEFAULT_NAMES = {yaml: "pasted.yaml", json: "pasted.json", jsonld: "pasted.jsonld", turtle: "pasted.ttl",
                       ntriples: "pasted.nt", rdfxml: "pasted.rdf"};

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function authHeaders(headers) {
  const t = token();
  return t ? Object.assign({Authorization: "Bearer " + t}, headers) : headers;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.message || body.error || response.statusText;
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

function setStatus(element, text, isError) {
  if (!element) return;
  element.textContent = text;
  element.classList.toggle("error", !!isError);
}

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const status = document.getElementById("token-status");
  const forget = document.getElementById("token-forget");
  if (!form || !input) return;
  const show = () => setStatus(status, token() ? "set for this tab" : "not set: storing and deleting need it");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    input.value = "";
    show();
  });
  forget.addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); show(); });
  show();
}

function writeRefusal(response) {
  if (response.status === 401) return "Enter the write token at the top of the page first.";
  if (response.status === 403 && document.body.dataset.writes === "token") {
    return "The server refused the token: check it and enter it again.";
  }
  return null;
}

function setupUpload() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const file = document.getElementById("upload-file");
  const text = document.getElementById("upload-text");
  const format = document.getElementById("upload-format");
  const id = document.getElementById("upload-id");
  const replace = document.getElementById("upload-replace");
  const status = document.getElementById("upload-status");
  const result = document.getElementById("check-result");
  let filename = null;

  file.addEventListener("change", () => {
    const chosen = file.files[0];
    if (!chosen) return;
    filename = chosen.name.replace(/[\/\\\x00-\x1f]/g, "_").slice(0, 200);
    const suffix = chosen.name.split(".").pop().toLowerCase();
    if (SUFFIXES[suffix]) format.value = SUFFIXES[suffix];
    chosen.text().then((content) => { text.value = content; setStatus(status, "read " + chosen.name); });
  });
  text.addEventListener("input", () => { if (!file.files.length) filename = null; });

  function request() {
    const params = new URLSearchParams({format: format.value, filename: filename || DEFAULT_NAMES[format.value]});
    return {params, options: {body: text.value, headers: {"Content-Type": FORMATS[format.value]}}};
  }

  async function check() {
    if (!text.value.trim()) { setStatus(status, "Paste a description or choose a file first.", true); return; }
    setStatus(status, "checking…");
    const {params, options} = request();
    const response = await fetch("/ui/check?" + params, Object.assign({method: "POST"}, options));
    if (!response.ok) { setStatus(status, await errorText(response), true); return; }
    result.innerHTML = await response.text();  // server-rendered, every value escaped
    setStatus(status, "checked");
    const heading = document.getElementById("check-heading");
    if (heading) heading.focus();
  }

  async function store() {
    if (!text.value.trim()) { setStatus(status, "Paste a description or choose a file first.", true); return; }
    setStatus(status, "storing and diagnosing…");
    const {params, options} = request();
    const wanted = id.value.trim();
    let url = "/descriptions?" + params, method = "POST";
    if (wanted && replace.checked) { url = "/descriptions/" + encodeURIComponent(wanted) + "?" + params; method = "PUT"; }
    else if (wanted) { params.set("id", wanted); url = "/descriptions?" + params; }
    const response = await fetch(url, {method, body: options.body, headers: authHeaders(options.headers)});
    if (response.ok) {
      const record = await response.json();
      window.location.assign("/ui/descriptions/" + encodeURIComponent(record.id));
      return;
    }
    const refusal = writeRefusal(response);
    if (refusal) { setStatus(status, refusal, true); return; }
    const message = await errorText(response);
    if (response.status === 400) { await check(); setStatus(status, "Not stored: " + message, true); return; }
    setStatus(status, "Not stored: " + message, true);
  }

  document.getElementById("check-button").addEventListener("click", check);
  document.getElementById("store-button").addEventListener("click", store);
}

function setupDelete() {
  const button = document.getElementById("delete-button");
  if (!button) return;
  const status = document.getElementById("delete-status");
  button.addEventListener("click", async () => {
    const id = button.dataset.id;
    if (!window.confirm("Delete the description '" + id + "' and its graphs?")) return;
    const response = await fetch("/descriptions/" + encodeURIComponent(id),
                                 {method: "DELETE", headers: authHeaders({})});
    if (response.ok) { window.location.assign("/"); return; }
    setStatus(status, writeRefusal(response) || await errorText(response), true);
  });
}

// The proof graph: Graphviz's SVG, fetched from this origin, parsed as XML (nothing in it runs: the parser
// executes no script, the page's policy allows none inline, and script, foreign content, event-handler and
// external-link attributes are dropped anyway), then shown inline so that each rule application's tooltip
// (formula and values) appears on hover.
async function setupGraph() {
  const graph = document.getElementById("graph");
  if (!graph) return;
  const status = document.getElementById("graph-status");
  const response = await fetch(graph.dataset.src);
  if (!response.ok) {
    setStatus(status, "The graph could not be drawn: " + await errorText(response) + " The tree below has the same content.", true);
    return;
  }
  const parsed = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.nodeName !== "svg") { setStatus(status, "The graph could not be read.", true); return; }
  svg.querySelectorAll("script, foreignObject").forEach((element) => element.remove());
  for (const element of [svg, ...svg.querySelectorAll("*")]) {
    for (const attribute of [...element.attributes]) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith("on") || (name.endsWith("href") && !attribute.value.startsWith("#"))) {
        element.removeAttribute(attribute.name);
      }
    }
  }
  const box = svg.viewBox.baseVal;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Proof graph: the statements and rule applications of the tree below");
  const shown = document.importNode(svg, true);
  graph.replaceChildren(shown);
  const buttons = document.querySelectorAll("[data-zoom]");
  const zoom = (level) => {
    if (level === "fit") {
      shown.setAttribute("width", "100%");
      shown.removeAttribute("height");
    } else {
      shown.setAttribute("width", box.width * (96 / 72) * Number(level) + "px");
      shown.setAttribute("height", box.height * (96 / 72) * Number(level) + "px");
    }
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.zoom === level)));
    const root = [...shown.querySelectorAll("g.node")].find((g) => g.querySelector("title")?.textContent === "n0");
    if (root && level !== "fit") {  // the diagnosis: top of the graph, somewhere across it
      const x = root.getBoundingClientRect().left - shown.getBoundingClientRect().left;
      graph.scrollLeft = Math.max(0, x - graph.clientWidth / 2);
      graph.scrollTop = 0;
    }
  };
  buttons.forEach((button) => button.addEventListener("click", () => zoom(button.dataset.zoom)));
  zoom("1");
}

function setupTree() {
  const tree = document.getElementById("tree");
  if (!tree) return;
  const all = (open) => tree.querySelectorAll("details").forEach((d) => { d.open = open; });
  document.getElementById("tree-expand").addEventListener("click", () => all(true));
  document.getElementById("tree-collapse").addEventListener("click", () => all(false));
}

document.addEventListener("DOMContentLoaded", () => {
  setupToken();
  setupUpload();
  setupDelete();
  setupGraph();
  setupTree();
});
