// Written before each search page's own script (recherche.js, recherche-nationale.js): both
// merge several Pagefind indexes into one search.
//
// Pagefind's interface lists the filter values of its latest search, counted from the filters
// it had loaded when that search ran: on a slow connection, a first search that ends before
// every merged index's filters have arrived leaves that index's values (the members of a
// shard, the Maisons of a territory) out of the filters until the next search. Once the first
// results are shown (every index merged by then), the filters are loaded through Pagefind's
// own module, which the interface shares, and if the interface shows fewer values than they
// hold, the search is made again (unless the reader has chosen filters meanwhile).
window.doteFiltresComplets = function (ui, box) {
  "use strict";
  var interfaceScript = document.querySelector('script[src$="pagefind-ui.js"]');
  if (!interfaceScript || typeof MutationObserver === "undefined") {
    return;
  }
  // As the interface imports it: the bundle's address, from the interface's own script.
  var moduleUrl = new URL(box.getAttribute("data-bundle") + "pagefind.js", interfaceScript.src).href;
  var watcher = new MutationObserver(function () {
    if (!box.querySelector(".pagefind-ui__result")) {
      return;
    }
    watcher.disconnect();
    import(moduleUrl)
      .then(function (pagefind) {
        return pagefind.filters();
      })
      .then(function (filters) {
        var loaded = 0;
        Object.keys(filters || {}).forEach(function (name) {
          loaded += Object.keys(filters[name]).length;
        });
        var shown = box.querySelectorAll(".pagefind-ui__filter-value").length;
        var input = box.querySelector(".pagefind-ui__search-input");
        if (
          shown < loaded &&
          input &&
          input.value.trim() &&
          !box.querySelector(".pagefind-ui__filter-checkbox:checked")
        ) {
          ui.triggerFilters({}); // the same search, with every filter now loaded
        }
      })
      .catch(function () {}); // the interface goes on as Pagefind made it
  });
  watcher.observe(box, { childList: true, subtree: true });
};
