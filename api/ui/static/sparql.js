// YASGUI (vendored: static/vendor/yasgui) on this service's own SPARQL endpoint. The class and property
// autocompleters are left out: they ask a public vocabulary service, and this page loads nothing from
// the network. Prefix completion uses the list bundled in YASGUI.
"use strict";

const STARTER = `PREFIX sai: <https://w3id.org/sortai/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

# Every diagnosis and finding of every stored description, most severe first
SELECT ?diagnosis ?what ?severity ?score WHERE {
  ?diagnosis a sai:Diagnosis ;
             sai:severity/rdfs:label ?severity ;
             sai:severityScore ?score .
  OPTIONAL { ?diagnosis sai:mode/rdfs:label ?mode }
  OPTIONAL { ?diagnosis sai:findingKind/rdfs:label ?finding }
  BIND(COALESCE(?mode, ?finding) AS ?what)
}
ORDER BY DESC(?score)
LIMIT 200
`;

document.addEventListener("DOMContentLoaded", () => {
  const element = document.getElementById("yasgui");
  const endpoint = new URL(element.dataset.endpoint, window.location.href).href;
  document.getElementById("endpoint-url").textContent = endpoint;
  Yasgui.Yasqe.defaults.value = STARTER;
  window.yasgui = new Yasgui(element, {
    requestConfig: {endpoint, method: "POST"},
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: {getData: () => [{endpoint}], keys: []},
    persistenceId: "sortai-yasgui",
    yasqe: {autocompleters: ["prefixes", "variables"], value: STARTER},
  });
});
