// The static site's search: loads the index meta on first use, then only the term shards and
// document chunks a query needs. Terms are cut as src/render/search_index.rs cuts them.
(function () {
  "use strict";
  var metaUrl = document.documentElement.dataset.searchIndex;
  var dir = metaUrl.slice(0, metaUrl.lastIndexOf("/") + 1);
  var cache = new Map();
  function load(url) {
    if (!cache.has(url)) {
      cache.set(url, fetch(url).then(function (r) {
        if (!r.ok) { throw new Error("cannot load the search index (" + r.status + ")"); }
        return r.json();
      }));
    }
    return cache.get(url);
  }
  function meta() { return load(metaUrl); }
  function terms(text) {
    return text.toLowerCase().split(/[^\p{Alphabetic}\p{N}]+/u).filter(function (t) {
      var n = Array.from(t).length;
      return n >= 2 && n <= 40;
    });
  }
  function hexOf(text) {
    var bytes = new TextEncoder().encode(text);
    return Array.from(bytes).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  // The shard of a term: the longest shard key its hex begins with (shards too large are cut
  // by longer prefixes).
  function shardOf(m, hex) {
    var best = null;
    m.shards.forEach(function (key) {
      if (hex.indexOf(key) === 0 && (best === null || key.length > best.length)) { best = key; }
    });
    return best;
  }
  // The shards that may hold terms beginning with `hex`: its own, and those cut below it.
  function shardsFrom(m, hex) {
    var own = shardOf(m, hex);
    var below = m.shards.filter(function (key) { return key !== own && key.indexOf(hex) === 0; }).slice(0, 16);
    return (own === null ? [] : [own]).concat(below);
  }
  // A list of sections: delta-encoded numbers, or a bitmap of every section in base64.
  function decode(list) {
    var out = [];
    if (typeof list === "string") {
      var bytes = atob(list);
      for (var i = 0; i < bytes.length; i++) {
        var byte = bytes.charCodeAt(i);
        for (var b = 0; b < 8; b++) { if (byte & (1 << b)) { out.push(i * 8 + b); } }
      }
      return out;
    }
    var n = 0;
    for (var j = 0; j < list.length; j++) { n += list[j]; out.push(n); }
    return out;
  }
  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function highlight(text, words) {
    if (!words.length) { return escapeHtml(text); }
    var pattern = new RegExp("(" + words.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }).join("|") + ")", "giu");
    return text.split(pattern).map(function (part, i) { return i % 2 ? "<mark>" + escapeHtml(part) + "</mark>" : escapeHtml(part); }).join("");
  }

  // Scores of one query term: section → score, from the term itself (and, for the word being
  // typed, from the terms it begins).
  function termScores(m, term, isPrefix) {
    var hex = hexOf(term);
    var keys = isPrefix ? shardsFrom(m, hex) : [shardOf(m, hex)].filter(function (k) { return k !== null; });
    if (!keys.length) { return Promise.resolve(new Map()); }
    return Promise.all(keys.map(function (key) { return load(dir + "t-" + key + ".json?v=" + m.v); })).then(function (loaded) {
      var shard = Object.assign.apply(null, [{}].concat(loaded));
      var names = Object.prototype.hasOwnProperty.call(shard, term) ? [term] : [];
      if (isPrefix) {
        Object.keys(shard).filter(function (t) { return t !== term && t.indexOf(term) === 0; })
          .sort(function (a, b) { return a.length - b.length || (a < b ? -1 : 1); }).slice(0, 30)
          .forEach(function (t) { names.push(t); });
      }
      var scores = new Map();
      names.forEach(function (name) {
        var lists = shard[name];
        var strong = decode(lists[0]);
        var weak = decode(lists[1]);
        var idf = Math.log(1 + m.sections / (strong.length + weak.length));
        var factor = name === term ? 1 : 0.5;
        weak.forEach(function (s) { scores.set(s, Math.max(scores.get(s) || 0, idf * factor)); });
        strong.forEach(function (s) { scores.set(s, Math.max(scores.get(s) || 0, 3 * idf * factor)); });
      });
      return scores;
    });
  }

  function search(query, limit, typing) {
    return meta().then(function (m) {
      var words = terms(query);
      if (!words.length) { return { query: query, suggestion: null, hits: [] }; }
      return Promise.all(words.map(function (w, i) { return termScores(m, w, typing && i === words.length - 1); })).then(function (groups) {
        var total = new Map();
        var smallest = groups.slice().sort(function (a, b) { return a.size - b.size; })[0];
        smallest.forEach(function (_, s) {
          var sum = 0;
          for (var g = 0; g < groups.length; g++) {
            var score = groups[g].get(s);
            if (score === undefined) { return; }
            sum += score;
          }
          total.set(s, sum);
        });
        if (!total.size && groups.length > 1) {
          groups.forEach(function (g) { g.forEach(function (score, s) { total.set(s, (total.get(s) || 0) + score); }); });
        }
        // Several sections per hit are looked at, so that a page's other matching sections fold
        // under its best one (as `runbook search` does).
        var ranked = Array.from(total.entries()).sort(function (a, b) { return b[1] - a[1] || a[0] - b[0]; }).slice(0, limit * 5);
        var chunks = Array.from(new Set(ranked.map(function (e) { return Math.floor(e[0] / m.chunk); })));
        return Promise.all(chunks.map(function (c) { return load(dir + "d-" + c + ".json?v=" + m.v); })).then(function (loaded) {
          var byChunk = new Map();
          chunks.forEach(function (c, i) { byChunk.set(c, loaded[i]); });
          var hits = [];
          var byRunbook = new Map();
          ranked.forEach(function (e) {
            var docs = byChunk.get(Math.floor(e[0] / m.chunk));
            var entry = docs.s[e[0] % m.chunk];
            var owner = docs.r[entry[0]];
            var url = entry[1] ? owner[0] + "#" + entry[1] : owner[0];
            var page = byRunbook.get(entry[0]);
            if (page) { page.more.push({ heading: entry[2], anchor: entry[1], url: url, score: e[1] }); return; }
            if (hits.length >= limit) { return; }
            page = {
              kind: owner[2] || "runbook",
              title: owner[1],
              heading: entry[2],
              anchor: entry[1],
              url: url,
              snippet: highlight(entry[3], words),
              score: e[1],
              more: []
            };
            byRunbook.set(entry[0], page);
            hits.push(page);
          });
          return { query: query, suggestion: null, hits: hits };
        });
      });
    });
  }

  window.runbookSearch = { search: search };
})();
