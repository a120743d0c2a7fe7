"use strict";
// The report's one script: sort, filter, details and copy. Its whole state
// lives in the URL fragment (#sort=detected&dir=desc&verdict=bad&type=file&q=text&open=r3),
// so a view can be bookmarked or shared, and every control goes through the
// same apply(). It only moves, hides and shows nodes the page already has and
// writes text with textContent, never markup.
(function () {
  var table = document.getElementById("records");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.tBodies);
  var numeric = { verdict: true, detected: true, detections: true };
  var defaults = { sort: "verdict", dir: "desc", verdict: "", type: "", q: "", open: "" };

  function state() {
    var s = {};
    Object.keys(defaults).forEach(function (k) { s[k] = defaults[k]; });
    var frag = window.location.hash.replace(/^#/, "");
    frag.split("&").forEach(function (pair) {
      if (!pair) { return; }
      var i = pair.indexOf("=");
      var k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
      var v = i < 0 ? "" : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, " "));
      if (Object.prototype.hasOwnProperty.call(defaults, k)) { s[k] = v; }
    });
    return s;
  }

  function go(change) {
    var s = state();
    Object.keys(change).forEach(function (k) { s[k] = change[k]; });
    var parts = [];
    Object.keys(defaults).forEach(function (k) {
      if (s[k] !== defaults[k]) { parts.push(k + "=" + encodeURIComponent(s[k])); }
    });
    var frag = parts.join("&");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", frag ? "#" + frag : window.location.pathname + window.location.search);
    } else {
      window.location.hash = frag;
    }
    apply();
  }

  function key(row, col) {
    var v = row.getAttribute("data-" + col) || "";
    return numeric[col] ? parseFloat(v) || 0 : v.toLowerCase();
  }

  function apply() {
    var s = state();
    var dir = s.dir === "asc" ? 1 : -1;
    var col = s.sort;
    // Ties keep the page's order: most severe, then most detected, first.
    var sorted = rows.slice().sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      if (x < y) { return -dir; }
      if (x > y) { return dir; }
      return parseInt(a.getAttribute("data-rank"), 10) - parseInt(b.getAttribute("data-rank"), 10);
    });
    var q = s.q.toLowerCase();
    var shown = 0;
    sorted.forEach(function (row) {
      table.appendChild(row);
      var ok = (!s.verdict || row.getAttribute("data-verdict") === s.verdict ||
                (s.verdict === "error" && row.hasAttribute("data-error"))) &&
               (!s.type || row.getAttribute("data-type") === s.type) &&
               (!q || (row.getAttribute("data-text") || "").indexOf(q) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
      var open = row.id === s.open;
      var details = row.querySelector("tr.details");
      if (details) { details.hidden = !open; }
      row.classList.toggle("open", open);
      var button = row.querySelector("button.more");
      if (button) { button.setAttribute("aria-expanded", open ? "true" : "false"); }
    });
    Array.prototype.forEach.call(document.querySelectorAll("th[data-col]"), function (th) {
      var c = th.getAttribute("data-col");
      th.setAttribute("aria-sort", c === col ? (dir > 0 ? "ascending" : "descending") : "none");
    });
    document.getElementById("shown").textContent = String(shown);
    document.getElementById("empty").hidden = shown > 0;
    var controls = { "f-verdict": s.verdict, "f-type": s.type, "f-q": s.q };
    Object.keys(controls).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.value !== controls[id]) { el.value = controls[id]; }
    });
    document.body.setAttribute("data-ready", "true");
  }

  Array.prototype.forEach.call(document.querySelectorAll("th[data-col] button"), function (b) {
    b.addEventListener("click", function () {
      var c = b.parentNode.getAttribute("data-col");
      var s = state();
      var dir = s.sort === c ? (s.dir === "asc" ? "desc" : "asc") : (numeric[c] ? "desc" : "asc");
      go({ sort: c, dir: dir });
    });
  });
  document.getElementById("f-verdict").addEventListener("change", function (e) { go({ verdict: e.target.value }); });
  document.getElementById("f-type").addEventListener("change", function (e) { go({ type: e.target.value }); });
  document.getElementById("f-q").addEventListener("input", function (e) { go({ q: e.target.value }); });
  document.getElementById("f-reset").addEventListener("click", function () {
    go({ verdict: "", type: "", q: "", sort: defaults.sort, dir: defaults.dir });
  });
  table.addEventListener("click", function (e) {
    var t = e.target;
    if (!(t instanceof Element)) { return; }
    var more = t.closest("button.more");
    if (more) {
      var id = more.closest("tbody").id;
      go({ open: state().open === id ? "" : id });
      return;
    }
    var copy = t.closest("button.copy");
    if (copy) {
      var text = copy.getAttribute("data-copy") || "";
      var done = function () {
        copy.textContent = "copied";
        window.setTimeout(function () { copy.textContent = "copy"; }, 1200);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
      } else {
        fallback(text);
        done();
      }
    }
  });
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (err) { /* nothing else to try */ }
    document.body.removeChild(area);
  }
  window.addEventListener("hashchange", apply);
  apply();
})();
