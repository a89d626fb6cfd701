// Site search: Pagefind's default interface (its bundle is written at the end of the
// build), French from the page's language, opened on ?q= when the quick form sent one.
(function () {
  "use strict";
  var box = document.getElementById("dote-recherche");
  if (!box || typeof PagefindUI === "undefined") {
    return;
  }
  // A large site is indexed in shards (dote.search): they are merged into one search.
  // Their pages' addresses are relative to the site's root, the folder above the bundle.
  var root = new URL(box.getAttribute("data-bundle") + "../", window.location.href).pathname;
  var merged = JSON.parse(box.getAttribute("data-fusion") || "[]").map(function (path) {
    return { bundlePath: path, baseUrl: root };
  });
  var ui = new PagefindUI({
    element: "#dote-recherche",
    bundlePath: box.getAttribute("data-bundle"),
    mergeIndex: merged,
    showSubResults: true,
    showImages: false,
    resetStyles: false,
    autofocus: true,
  });
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
  if (merged.length && window.doteFiltresComplets) {
    window.doteFiltresComplets(ui, box); // see recherche-filtres.js, written before this script
  }
})();
