// National search: Pagefind's default interface over the index built from the harvest
// (dote.national.site). Its documents are staged, never published: each result is sent to
// the member's page on its own Maison's site, named by the document's "adresse" meta, and
// each sub-result to its activity's anchor there. Only http(s) addresses are used; a
// result without one leads to the list of the Maisons. Each result names its Maison (meta).
(function () {
  "use strict";
  var box = document.getElementById("dote-recherche");
  if (!box || typeof PagefindUI === "undefined") {
    return;
  }
  var fallback = new URL(box.getAttribute("data-repli") || "./", window.location.href).href;

  function web(value) {
    if (typeof value !== "string" || !value) {
      return "";
    }
    try {
      var url = new URL(value);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.host) {
        url.hash = "";
        return url.href;
      }
    } catch (error) {
      // not an absolute address
    }
    return "";
  }

  function anchor(url) {
    var at = typeof url === "string" ? url.indexOf("#") : -1;
    return at >= 0 ? url.slice(at) : "";
  }

  function processResult(result) {
    // The interface may process one result again (a filter changed): keep what was read.
    var meta = result.meta || {};
    var page = typeof result.doteAdresse === "string" ? result.doteAdresse : web(meta.adresse);
    result.doteAdresse = page;
    delete meta.adresse;
    result.url = page ? page + anchor(result.url) : fallback;
    (result.sub_results || []).forEach(function (sub) {
      sub.url = page ? page + anchor(sub.url) : fallback;
    });
    return result;
  }

  var bundle = box.getAttribute("data-bundle");
  var root = new URL(bundle + "../", window.location.href).pathname;
  var merged = JSON.parse(box.getAttribute("data-fusion") || "[]").map(function (path) {
    return { bundlePath: path, baseUrl: root };
  });
  var ui = new PagefindUI({
    element: "#dote-recherche",
    bundlePath: bundle,
    mergeIndex: merged,
    showSubResults: true,
    showImages: false,
    resetStyles: false,
    autofocus: true,
    processResult: processResult,
  });
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
  if (merged.length && window.doteFiltresComplets) {
    window.doteFiltresComplets(ui, box); // see recherche-filtres.js, written before this script
  }
})();
