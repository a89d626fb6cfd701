// The registers explorer: every activity of the territory, filtered in the browser.
//
// The data file (registres/explorer/donnees.json, written by dote/explorer.py) holds
// facet value tables and integer indexes. Everything in it comes from the registers
// and is untrusted: it is written into the page as text only (textContent, text nodes),
// never as markup, and links are built from ids (slugs) through encodeURIComponent.
// The filters live in the query string (?theme=elections&aipd=requis): a filtered
// view can be shared, and is restored on load and on back/forward.
// The last filtering time, in milliseconds, is exposed as <body data-filtre-ms>.
// The national explorer uses the same script: its data names each member's page on its
// own Maison's site (data.pages), which activities link to.
(function () {
  "use strict";
  var root = document.getElementById("dote-explorateur");
  var fallback = document.getElementById("dote-explorateur-sans-js");
  if (!root || !window.fetch || !window.URLSearchParams || !window.history || !window.history.pushState) {
    return;
  }
  var PAGE = 100; // results shown at once, and added by « Afficher plus »
  var SELECT_ABOVE = 20; // a facet with more values than this is a select, not checkboxes
  var SLUG = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
  var numberFormat = new Intl.NumberFormat("fr-FR");

  function number(n) {
    return numberFormat.format(n);
  }

  // The data file writes &, < and > as character references: back to plain text.
  function text(value) {
    return String(value).replace(/&(amp|lt|gt);/g, function (match, name) {
      return name === "amp" ? "&" : name === "lt" ? "<" : ">";
    });
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined) {
      node.textContent = content;
    }
    return node;
  }

  function failed() {
    if (!fallback || fallback.querySelector(".dote-explorateur__erreur")) {
      return;
    }
    var message = element(
      "p",
      "dote-explorateur__erreur",
      "Les données de l'explorateur n'ont pas pu être chargées. Chaque membre publie toutes ses " +
        "activités sur sa page : choisissez un membre ci-dessous."
    );
    message.setAttribute("role", "alert");
    fallback.insertBefore(message, fallback.firstChild);
  }

  fetch(root.getAttribute("data-donnees"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(start)
    .catch(function (error) {
      failed();
      if (window.console) {
        window.console.error("explorateur :", error);
      }
    });

  function start(data) {
    if (!data || data.format !== 1 || !Array.isArray(data.facettes) || !Array.isArray(data.activites)) {
      throw new Error("format de données inconnu");
    }
    var texts = data.textes.map(text);
    var profiles = data.profils;
    var memberRows = data.membres;
    var flat = data.activites;
    var total = flat.length >> 1;
    var actMember = new Int32Array(total);
    var actProfile = new Int32Array(total);
    for (var i = 0; i < total; i++) {
      actMember[i] = flat[2 * i];
      actProfile[i] = flat[2 * i + 1];
    }

    // Each facet: its values, what is selected, and for every "owner" (a member for the
    // member-level facets, a profile otherwise) the indexes of its values.
    var memberLevel = 0;
    var activityLevel = 0;
    var facets = data.facettes.map(function (raw, n) {
      var values = raw.valeurs.map(function (v) {
        return { key: text(v[0]), label: text(v[1]) };
      });
      var byKey = new Map();
      values.forEach(function (v, index) {
        byKey.set(v.key, index);
      });
      var member = raw.niveau === "membre";
      var owners;
      if (member && n === 0) {
        owners = memberRows.map(function (row, m) {
          return Int32Array.of(m);
        });
      } else if (member) {
        var position = memberLevel++;
        owners = memberRows.map(function (row) {
          return Int32Array.of(row[position]);
        });
      } else {
        var column = 3 + activityLevel++;
        owners = profiles.map(function (row) {
          var value = row[column];
          return Array.isArray(value) ? Int32Array.from(value) : Int32Array.of(value);
        });
      }
      return {
        n: n,
        key: text(raw.cle),
        title: text(raw.titre),
        member: member,
        values: values,
        byKey: byKey,
        owners: owners,
        selected: new Uint8Array(values.length),
        counts: new Uint32Array(values.length),
        shown: new Int32Array(values.length).fill(-1),
        pass: new Uint8Array(owners.length),
        others: 0, // activities that pass every other facet
        shownOthers: -1,
        select: values.length > SELECT_ABOVE,
        controls: [],
        all: null, // the select's « no filter » option
      };
    });
    if (!facets.length || facets[0].key !== "membre") {
      throw new Error("la première facette doit être celle des membres");
    }
    var members = facets[0].values;

    var before = root.getAttribute("data-lien-avant") || "";
    var after = root.getAttribute("data-lien-apres") || "";
    var linkable = !/[:\\?#]/.test(before + after);

    // --- the filters ---------------------------------------------------------------------

    var form = root.querySelector(".dote-explorateur__filtres");
    var holder = root.querySelector(".dote-explorateur__facettes");
    var status = root.querySelector(".dote-explorateur__compte");
    var list = root.querySelector(".dote-explorateur__liste");
    var more = root.querySelector(".dote-explorateur__plus");

    facets.forEach(function (f) {
      var fieldset = element("fieldset", "dote-facette");
      var legend = element("legend", "", f.title);
      legend.id = "dote-f" + f.n + "-titre";
      fieldset.appendChild(legend);
      if (f.select) {
        var select = element("select", "dote-facette__choix");
        select.id = "dote-f" + f.n;
        select.setAttribute("aria-labelledby", legend.id);
        f.all = element("option", "", "Sans filtre");
        f.all.value = "";
        select.appendChild(f.all);
        f.values.forEach(function (v, index) {
          var option = element("option", "", v.label);
          option.value = String(index);
          select.appendChild(option);
          f.controls.push(option);
        });
        select.setAttribute("data-facette", String(f.n));
        fieldset.appendChild(select);
      } else {
        var items = element("div", "dote-facette__valeurs");
        f.values.forEach(function (v, index) {
          var line = element("div", "dote-facette__valeur");
          var box = element("input");
          box.type = "checkbox";
          box.id = "dote-f" + f.n + "-" + index;
          box.value = String(index);
          box.setAttribute("data-facette", String(f.n));
          var label = element("label");
          label.htmlFor = box.id;
          label.appendChild(document.createTextNode(v.label + " "));
          var count = element("span", "dote-facette__nombre");
          label.appendChild(count);
          line.appendChild(box);
          line.appendChild(label);
          items.appendChild(line);
          f.controls.push({ box: box, count: count });
        });
        fieldset.appendChild(items);
      }
      holder.appendChild(fieldset);
    });

    function syncControls() {
      facets.forEach(function (f) {
        if (f.select) {
          var select = document.getElementById("dote-f" + f.n);
          var chosen = f.selected.indexOf(1);
          select.value = chosen < 0 ? "" : String(chosen);
        } else {
          f.controls.forEach(function (c, index) {
            c.box.checked = f.selected[index] === 1;
          });
        }
      });
    }

    // --- the query string ----------------------------------------------------------------

    function readUrl() {
      var params = new URLSearchParams(window.location.search);
      facets.forEach(function (f) {
        f.selected.fill(0);
        params.getAll(f.key).forEach(function (key) {
          var index = f.byKey.get(key);
          if (index !== undefined && !(f.select && f.selected.indexOf(1) >= 0)) {
            f.selected[index] = 1;
          }
        });
      });
    }

    function writeUrl() {
      var params = new URLSearchParams();
      facets.forEach(function (f) {
        f.values.forEach(function (v, index) {
          if (f.selected[index]) {
            params.append(f.key, v.key);
          }
        });
      });
      var query = params.toString();
      var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
      var current = window.location.pathname + window.location.search + window.location.hash;
      if (url !== current) {
        window.history.pushState({ explorateur: query }, "", url);
      }
    }

    // --- filtering -----------------------------------------------------------------------

    var matched = new Int32Array(total);
    var matchedCount = 0;
    var limit = PAGE;
    var applied = null; // the query string the results show

    // Counts are "disjunctive": a facet's values are counted over the activities that pass
    // every other facet, so that each count says what choosing that value would give.
    // Activities are tallied by owner (member, profile), then owners' values are counted.
    var byMember = new Uint32Array(memberRows.length); // activities passing every facet
    var byProfile = new Uint32Array(profiles.length);
    facets.forEach(function (f) {
      f.hits = new Uint32Array(f.owners.length); // activities failing this facet only
    });

    function filter() {
      var active = facets.filter(function (f) {
        return f.selected.indexOf(1) >= 0;
      });
      active.forEach(function (f) {
        var owners = f.owners;
        var selected = f.selected;
        for (var o = 0; o < owners.length; o++) {
          var values = owners[o];
          var ok = 0;
          for (var k = 0; k < values.length; k++) {
            if (values[k] >= 0 && selected[values[k]]) {
              ok = 1;
              break;
            }
          }
          f.pass[o] = ok;
        }
        f.hits.fill(0);
      });
      byMember.fill(0);
      byProfile.fill(0);
      var nActive = active.length;
      matchedCount = 0;
      for (var i = 0; i < total; i++) {
        var m = actMember[i];
        var p = actProfile[i];
        var failures = 0;
        var failedFacet = null;
        for (var a = 0; a < nActive; a++) {
          var f = active[a];
          if (!f.pass[f.member ? m : p]) {
            failures++;
            if (failures > 1) {
              break;
            }
            failedFacet = f;
          }
        }
        if (failures === 0) {
          matched[matchedCount++] = i;
          byMember[m]++;
          byProfile[p]++;
        } else if (failures === 1) {
          failedFacet.hits[failedFacet.member ? m : p]++;
        }
      }
      facets.forEach(function (f) {
        var tally = f.member ? byMember : byProfile;
        var own = f.selected.indexOf(1) >= 0 ? f.hits : null;
        var counts = f.counts;
        counts.fill(0);
        f.others = 0;
        for (var o = 0; o < f.owners.length; o++) {
          var n = tally[o] + (own ? own[o] : 0);
          if (n === 0) {
            continue;
          }
          f.others += n;
          var values = f.owners[o];
          for (var k = 0; k < values.length; k++) {
            if (values[k] >= 0) {
              counts[values[k]] += n;
            }
          }
        }
      });
    }

    // --- showing -------------------------------------------------------------------------

    function showCounts() {
      facets.forEach(function (f) {
        if (f.select && f.others !== f.shownOthers) {
          f.shownOthers = f.others;
          f.all.textContent = "Sans filtre (" + number(f.others) + ")";
        }
        for (var index = 0; index < f.values.length; index++) {
          var n = f.counts[index];
          if (n === f.shown[index]) {
            continue;
          }
          f.shown[index] = n;
          if (f.select) {
            f.controls[index].textContent = f.values[index].label + " (" + number(n) + ")";
          } else {
            f.controls[index].count.textContent = "(" + number(n) + ")";
          }
        }
      });
    }

    // An activity's link: to its anchor on its member's page. With per-member absolute
    // addresses (data.pages: the national explorer), that page is on another site, and
    // only an http(s) address without a fragment is ever linked.
    var pages = Array.isArray(data.pages) ? data.pages.map(pageUrl) : null;

    function pageUrl(value) {
      if (typeof value !== "string" || !value) {
        return "";
      }
      var url;
      try {
        url = new URL(text(value));
      } catch (error) {
        return "";
      }
      if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.host || url.hash) {
        return "";
      }
      return url.href;
    }

    function memberHref(memberIndex, activityId) {
      if (pages) {
        var page = pages[memberIndex] || "";
        return page && activityId ? page + "#" + encodeURIComponent(activityId) : "";
      }
      var memberKey = members[memberIndex].key;
      if (!linkable || !SLUG.test(memberKey) || !SLUG.test(activityId)) {
        return "";
      }
      return before + encodeURIComponent(memberKey) + after + "#" + encodeURIComponent(activityId);
    }

    function item(i) {
      var profile = profiles[actProfile[i]];
      var member = members[actMember[i]];
      var li = element("li", "dote-explorateur__activite");
      var title = element("p", "dote-explorateur__nom");
      var href = memberHref(actMember[i], texts[profile[0]]);
      var name = element(href ? "a" : "span", "", texts[profile[1]]);
      if (href) {
        name.setAttribute("href", href);
      }
      title.appendChild(name);
      li.appendChild(title);
      li.appendChild(element("p", "dote-explorateur__membre", member.label));
      var purpose = texts[profile[2]];
      li.appendChild(
        element(
          "p",
          "dote-explorateur__finalite" + (purpose ? "" : " dote-manquant"),
          purpose || "Finalité non renseignée ou non publiée"
        )
      );
      return li;
    }

    function showResults(from) {
      var fragment = document.createDocumentFragment();
      var upto = Math.min(matchedCount, limit);
      for (var r = from; r < upto; r++) {
        fragment.appendChild(item(matched[r]));
      }
      if (from === 0) {
        list.textContent = "";
      }
      list.appendChild(fragment);
      var rest = matchedCount - upto;
      more.hidden = rest <= 0;
      if (rest > 0) {
        var next = Math.min(rest, PAGE);
        more.textContent =
          "Afficher " + number(next) + (next > 1 ? " activités" : " activité") + " de plus (" +
          number(rest) + (rest > 1 ? " restantes)" : " restante)");
      }
      root.setAttribute("data-affichees", String(upto));
    }

    function announce() {
      var filtered = facets.some(function (f) {
        return f.selected.indexOf(1) >= 0;
      });
      var message;
      if (!filtered) {
        message = number(total) + (total > 1 ? " activités" : " activité") + " au total, sans filtre.";
      } else if (matchedCount === 0) {
        message = "Aucune activité ne correspond aux filtres choisis.";
      } else if (matchedCount === 1) {
        message = "1 activité sur " + number(total) + " correspond aux filtres choisis.";
      } else {
        message =
          number(matchedCount) + " activités sur " + number(total) + " correspondent aux filtres choisis.";
      }
      if (matchedCount > limit) {
        message += " Les " + number(limit) + " premières sont affichées.";
      }
      status.textContent = message;
      root.setAttribute("data-resultats", String(matchedCount));
    }

    function update(push) {
      var started = performance.now();
      limit = PAGE;
      filter();
      showCounts();
      showResults(0);
      announce();
      if (push) {
        writeUrl();
      }
      applied = window.location.search;
      document.body.setAttribute("data-filtre-ms", (performance.now() - started).toFixed(1));
    }

    // --- events --------------------------------------------------------------------------

    form.addEventListener("change", function (event) {
      var target = event.target;
      var f = facets[Number(target.getAttribute("data-facette"))];
      if (!f) {
        return;
      }
      if (f.select) {
        f.selected.fill(0);
        if (target.value !== "") {
          f.selected[Number(target.value)] = 1;
        }
      } else {
        f.selected[Number(target.value)] = target.checked ? 1 : 0;
      }
      update(true);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
    });
    form.addEventListener("reset", function (event) {
      event.preventDefault();
      facets.forEach(function (f) {
        f.selected.fill(0);
      });
      syncControls();
      update(true);
    });
    more.addEventListener("click", function () {
      var from = Math.min(matchedCount, limit);
      limit += PAGE;
      showResults(from);
      announce();
      var first = list.children[from];
      var target = first && first.querySelector("a, span");
      if (target) {
        if (target.tagName !== "A") {
          target.setAttribute("tabindex", "-1");
        }
        target.focus();
      }
    });
    window.addEventListener("popstate", function () {
      if (window.location.search === applied) {
        return; // a link to an anchor of the page: the filters did not change
      }
      readUrl();
      syncControls();
      update(false);
    });

    readUrl();
    syncControls();
    update(false);
    root.hidden = false;
    if (fallback) {
      fallback.hidden = true;
    }
    root.setAttribute("data-pret", "1");
  }
})();
