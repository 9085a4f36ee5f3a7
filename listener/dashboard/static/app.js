// listener dashboard: filters apply on change; relabel forms carry the analyst's token.
// The token is kept in this tab's sessionStorage only and sent in the POST body, never in a URL.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var filters = document.getElementById("filters");
  if (filters) {
    filters.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { filters.submit(); });
    });
  }
  var token = document.getElementById("analyst-token");
  var name = document.getElementById("analyst-name");
  function keep(input, key) {
    if (!input) return;
    try { input.value = sessionStorage.getItem(key) || ""; } catch (e) { /* storage off */ }
    input.addEventListener("input", function () {
      try { sessionStorage.setItem(key, input.value); } catch (e) { /* storage off */ }
    });
  }
  keep(token, "listener.token");
  keep(name, "listener.name");
  document.querySelectorAll("form.relabel").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.elements.token.value = token ? token.value : "";
      form.elements.by.value = name ? name.value : "";
    });
  });
})();
