// Site search: Pagefind's default interface (its bundle is written at the end of the
// build), French from the page's language, opened on ?q= when the quick form sent one.
(function () {
  "use strict";
  var box = document.getElementById("dote-recherche");
  if (!box || typeof PagefindUI === "undefined") {
    return;
  }
  var ui = new PagefindUI({
    element: "#dote-recherche",
    bundlePath: box.getAttribute("data-bundle"),
    showSubResults: true,
    showImages: false,
    resetStyles: false,
    autofocus: true,
  });
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
})();
