// The watch page (/veille/): filters the items by source and theme, in the browser.
//
// Without this script every item is listed and the filters stay hidden. The filters are
// kept in the query string (?source=cnil-actualites&theme=numerique) so that a filtered
// view can be shared. Nothing is written into the page but text (textContent).
(function () {
  "use strict";
  var root = document.getElementById("dote-veille");
  if (!root || !window.URLSearchParams) {
    return;
  }
  var form = root.querySelector(".dote-veille__filtres");
  var source = document.getElementById("veille-source");
  var theme = document.getElementById("veille-theme");
  var status = root.querySelector(".dote-veille__compte");
  if (!form || !source || !theme || !status) {
    return;
  }
  var items = Array.prototype.slice.call(root.querySelectorAll(".dote-veille__element"));
  var months = Array.prototype.slice.call(root.querySelectorAll(".dote-veille__mois"));

  function choose(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) {
        select.value = value;
        return;
      }
    }
    select.value = "";
  }

  function apply(announce) {
    var wantedSource = source.value;
    var wantedTheme = theme.value;
    var shown = 0;
    items.forEach(function (item) {
      var themes = (item.getAttribute("data-themes") || "").split(" ");
      var keep =
        (!wantedSource || item.getAttribute("data-source") === wantedSource) &&
        (!wantedTheme || themes.indexOf(wantedTheme) >= 0);
      item.hidden = !keep;
      if (keep) {
        shown += 1;
      }
    });
    months.forEach(function (month) {
      month.hidden = !month.querySelector(".dote-veille__element:not([hidden])");
    });
    if (announce) {
      status.textContent =
        shown + " élément" + (shown > 1 ? "s" : "") + " affiché" + (shown > 1 ? "s" : "") + " sur " + items.length;
    }
  }

  function writeUrl() {
    var params = new URLSearchParams(window.location.search);
    params.delete("source");
    params.delete("theme");
    if (source.value) {
      params.set("source", source.value);
    }
    if (theme.value) {
      params.set("theme", theme.value);
    }
    var query = params.toString();
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
    }
  }

  var params = new URLSearchParams(window.location.search);
  choose(source, params.get("source") || "");
  choose(theme, params.get("theme") || "");
  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });
  [source, theme].forEach(function (select) {
    select.addEventListener("change", function () {
      apply(true);
      writeUrl();
    });
  });
  apply(Boolean(source.value || theme.value));
})();
