// runbook site: search as you type, "/" to search, copy buttons, the shared nav, live reload.
// Everything here is an enhancement: the pages work without it (search-as-you-type aside).
(function () {
  "use strict";
  var root = document.documentElement;
  var base = root.dataset.base || "/";
  var input = document.getElementById("search-input");
  var popup = document.getElementById("search-popup");

  // "/" focuses search, unless the reader is typing somewhere.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey && input) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  // Copy buttons: shown only when they can work.
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(button.dataset.copy || "").then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      }, function () { button.textContent = "Copy failed"; });
    });
  });

  // The list of every runbook is one shared file, fetched when the reader opens it.
  var navAll = document.getElementById("nav-all");
  var navTree = document.getElementById("nav-tree");
  if (navAll && navTree && root.dataset.nav) {
    navAll.addEventListener("toggle", function () {
      if (!navAll.open || navTree.dataset.loaded) { return; }
      navTree.dataset.loaded = "1";
      fetch(root.dataset.nav).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); }).then(function (html) {
        var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
        navTree.replaceChildren.apply(navTree, Array.prototype.slice.call(doc.body.firstChild.childNodes));
        Array.prototype.forEach.call(navTree.querySelectorAll("a"), function (a) {
          if (a.getAttribute("href") !== location.pathname) { return; }
          a.setAttribute("aria-current", "page");
          // Open the folders down to the page being read.
          for (var node = a.parentElement; node && node !== navTree; node = node.parentElement) {
            if (node.tagName === "DETAILS") { node.open = true; }
          }
        });
      }, function () { delete navTree.dataset.loaded; });
    });
  }

  // A snippet is escaped text with <mark> around matches: rebuild it as nodes, never as HTML.
  function unescape(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;|&#x27;/g, "'").replace(/&amp;/g, "&");
  }
  function snippetNodes(snippet) {
    var nodes = [];
    var marked = false;
    (snippet || "").split(/(<mark>|<\/mark>)/).forEach(function (part) {
      if (part === "<mark>") { marked = true; return; }
      if (part === "</mark>") { marked = false; return; }
      if (!part) { return; }
      var text = document.createTextNode(unescape(part));
      if (marked) { var mark = document.createElement("mark"); mark.appendChild(text); nodes.push(mark); } else { nodes.push(text); }
    });
    return nodes;
  }
  function hitUrl(hit) {
    if (hit.url) { return hit.url; }
    var kind = hit.kind === "archive" ? "archives/" : hit.kind === "cycle" ? "cycles/" : "runbooks/";
    var page = base + kind + hit.id.split("/").map(encodeURIComponent).join("/") + "/";
    return hit.anchor ? page + "#" + hit.anchor : page;
  }
  function moreUrl(hit, section) {
    if (section.url) { return section.url; }
    var page = hitUrl({ kind: hit.kind, id: hit.id, anchor: "" });
    return section.anchor ? page + "#" + section.anchor : page;
  }
  function moreLabel(hit) {
    var n = hit.more ? hit.more.length : 0;
    return n ? "+ " + n + " more section" + (n === 1 ? "" : "s") : "";
  }
  // The other matching sections of a hit's page, folded under it.
  function moreSections(hit) {
    var details = document.createElement("details");
    details.className = "hit-more";
    var summary = document.createElement("summary");
    summary.textContent = moreLabel(hit).replace("+ ", "");
    details.appendChild(summary);
    var list = document.createElement("ul");
    hit.more.forEach(function (section) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = moreUrl(hit, section);
      link.textContent = section.heading;
      item.appendChild(link);
      list.appendChild(item);
    });
    details.appendChild(list);
    return details;
  }
  function hitTitle(hit) {
    return hit.heading && hit.heading !== hit.title ? hit.title + " › " + hit.heading : hit.title;
  }

  var staticSearch = null;
  function loadStaticSearch() {
    if (!staticSearch) {
      staticSearch = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = root.dataset.searchJs;
        script.onload = function () { resolve(window.runbookSearch); };
        script.onerror = function () { staticSearch = null; reject(new Error("cannot load the search index")); };
        document.head.appendChild(script);
      });
    }
    return staticSearch;
  }
  // `typing`: the last word may be the start of a longer one (search as you type).
  function search(query, limit, typing) {
    if (root.dataset.search === "static") {
      return loadStaticSearch().then(function (engine) { return engine.search(query, limit, typing); });
    }
    var url = base + "api/search?limit=" + limit + (typing ? "&prefix=1" : "") + "&q=" + encodeURIComponent(query);
    return fetch(url).then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("search answered " + r.status)); });
  }

  function hitList(results, short) {
    var list = document.createElement("ol");
    list.className = short ? "" : "hits";
    results.hits.forEach(function (hit) {
      var item = document.createElement("li");
      item.className = short ? "" : "hit";
      var link = document.createElement("a");
      link.href = hitUrl(hit);
      var title = document.createElement("span");
      title.className = "hit-title";
      title.textContent = hitTitle(hit);
      var snippet = document.createElement(short ? "span" : "p");
      snippet.className = "hit-snippet";
      snippet.replaceChildren.apply(snippet, snippetNodes(hit.snippet));
      var folded = hit.more && hit.more.length;
      if (short) {
        link.appendChild(title);
        link.appendChild(snippet);
        if (folded) {
          var count = document.createElement("span");
          count.className = "hit-more-count";
          count.textContent = moreLabel(hit);
          link.appendChild(count);
        }
        item.appendChild(link);
      } else {
        link.appendChild(title);
        item.appendChild(link);
        item.appendChild(snippet);
        if (folded) { item.appendChild(moreSections(hit)); }
      }
      list.appendChild(item);
    });
    return list;
  }

  // Search as you type, in a popup under the box.
  var timer = null;
  var latest = 0;
  var selected = -1;
  function closePopup() { if (popup) { popup.hidden = true; selected = -1; } }
  function showResults(query, results) {
    var nodes = [];
    if (results.hits.length) {
      nodes.push(hitList(results, true));
    } else {
      var empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = results.suggestion ? "Nothing found. Did you mean " + results.suggestion + "?" : "Nothing found.";
      nodes.push(empty);
    }
    var more = document.createElement("a");
    more.className = "more";
    more.href = base + "search/?q=" + encodeURIComponent(query);
    more.textContent = "All results for “" + query + "”";
    nodes.push(more);
    popup.replaceChildren.apply(popup, nodes);
    popup.hidden = false;
    selected = -1;
  }
  if (input && popup) {
    input.addEventListener("focus", function () { if (root.dataset.search === "static") { loadStaticSearch().catch(function () {}); } });
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var query = input.value;
      if (query.trim().length < 2) { closePopup(); return; }
      timer = setTimeout(function () {
        var ticket = ++latest;
        search(query, 8, /\S$/.test(query)).then(function (results) {
          if (ticket === latest && input.value === query) { showResults(query.trim(), results); }
        }, function (error) {
          if (ticket !== latest) { return; }
          var note = document.createElement("p");
          note.className = "empty";
          note.textContent = String(error.message || error);
          popup.replaceChildren(note);
          popup.hidden = false;
        });
      }, 120);
    });
    input.addEventListener("keydown", function (event) {
      var links = popup.hidden ? [] : popup.querySelectorAll("a");
      if (event.key === "Escape") { closePopup(); return; }
      if (!links.length || (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Enter")) { return; }
      if (event.key === "Enter") {
        if (selected >= 0) { event.preventDefault(); links[selected].click(); }
        return;
      }
      event.preventDefault();
      if (selected >= 0) { links[selected].removeAttribute("aria-selected"); }
      selected = (selected + (event.key === "ArrowDown" ? 1 : -1) + links.length) % links.length;
      links[selected].setAttribute("aria-selected", "true");
      links[selected].scrollIntoView({ block: "nearest" });
    });
    document.addEventListener("click", function (event) { if (!popup.contains(event.target) && event.target !== input) { closePopup(); } });
  }

  // The static site's search page renders its results here.
  var page = document.getElementById("search-results");
  var params = new URLSearchParams(location.search);
  if (page && root.dataset.search === "static" && params.get("q")) {
    var query = params.get("q");
    search(query, 50, false).then(function (results) {
      var count = document.createElement("p");
      count.className = "muted";
      count.textContent = results.hits.length ? results.hits.length + " result" + (results.hits.length === 1 ? "" : "s") + " for “" + query + "”" : "Nothing found for “" + query + "”.";
      page.replaceChildren(count);
      if (results.hits.length) { page.appendChild(hitList(results, false)); }
    }, function (error) { page.textContent = String(error.message || error); });
  }

  // Live reload: the server says when the knowledge base changed.
  if (root.dataset.reload && window.EventSource) {
    var source = new EventSource(root.dataset.reload);
    source.addEventListener("reload", function () { location.reload(); });
    window.addEventListener("pagehide", function () { source.close(); });
  }
})();
