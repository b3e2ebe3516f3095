/* spendmap award finder: search.html (every award) and each council page's award table.
   Plain JavaScript, no network: award data comes from local script files that call spendmapAwards(chunk)
   (outputs/search_page.py writes them). Text search is exact and case-insensitive: every word typed
   must occur in the award's title, recipient, scheme or council (former council names included). */
(function () {
  "use strict";

  var FILTERS = ["department", "funder_type", "policy_area", "band", "council", "region", "fy"];
  var chunks = [];
  // Data files call this as they load; they may load before or after the finder starts.
  window.spendmapAwards = function (chunk) { chunks.push(chunk); };

  function el(id) { return document.getElementById(id); }

  function gbp(v) {
    if (v === null || v === undefined || isNaN(v)) { return "–"; }
    var a = Math.abs(v), s = v < 0 ? "-£" : "£";
    if (a >= 1e9) { return s + (a / 1e9).toFixed(1) + "bn"; }
    if (a >= 1e6) { return s + (a / 1e6).toFixed(1) + "m"; }
    if (a >= 1e4) { return s + (a / 1e3).toFixed(0) + "k"; }
    return s + a.toLocaleString("en-GB", { maximumFractionDigits: 0 });
  }
  function gbpFull(v) {
    if (v === null || v === undefined || isNaN(v)) { return "–"; }
    return (v < 0 ? "-£" : "£") + Math.abs(v).toLocaleString("en-GB", { minimumFractionDigits: 0, maximumFractionDigits: 2 });
  }

  function bandOf(amount, bands) {
    if (amount === null) { return ""; }
    for (var i = 0; i < bands.length; i++) {
      var b = bands[i];
      if (b.low === null) { if (amount <= 0) { return b.key; } continue; }
      if (amount > 0 && amount >= b.low && (b.high === null || amount < b.high)) { return b.key; }
    }
    return "";
  }

  /* Rows of every loaded chunk, with their dictionary entries resolved. */
  function decode(chunk, root, bands) {
    var d = chunk.dicts, out = [];
    chunk.rows.forEach(function (r) {
      var c = d.council[r[7]] || ["", "", "", "", []];
      var row = {
        id: r[0], title: r[1], recipient: d.recipient[r[2]], scheme: d.scheme[r[3]],
        department: d.department[r[4]], funder_type: d.funder_type[r[5]], policy_area: d.policy_area[r[6]],
        la_code: c[0], council: c[1], region: c[2], href: c[3] ? root + c[3] : "",
        amount: r[8], fy: d.fy[r[9]], date: r[10], reason: d.reason[r[11]]
      };
      row.band = bandOf(row.amount, bands);
      row.text = [row.title, row.recipient, row.scheme, row.council, (c[4] || []).join(" "), row.id]
        .join(" ").toLowerCase();
      out.push(row);
    });
    return out;
  }

  // Text that a spreadsheet could run as a formula starts with an apostrophe (as outputs/safe.py does).
  function csvCell(v) {
    if (v === null || v === undefined) { return ""; }
    if (typeof v === "number") { return String(v); }
    var s = String(v);
    if (/^[=+\-@\t\r]/.test(s)) { s = "'" + s; }
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  var CSV_COLUMNS = [
    ["award_id", "id"], ["fy", "fy"], ["department", "department"], ["funder_type", "funder_type"],
    ["scheme_title", "scheme"], ["title", "title"], ["recipient_name", "recipient"], ["amount_gbp", "amount"],
    ["award_date", "date"], ["policy_area", "policy_area"], ["la_code", "la_code"], ["council", "council"],
    ["region", "region"], ["unplaced_reason", "reason"]
  ];
  function toCsv(rows) {
    var lines = [CSV_COLUMNS.map(function (c) { return c[0]; }).join(",")];
    rows.forEach(function (r) {
      lines.push(CSV_COLUMNS.map(function (c) { return csvCell(r[c[1]]); }).join(","));
    });
    return "\ufeff" + lines.join("\r\n") + "\r\n";  // BOM: Excel reads £ and accents correctly
  }

  function readHash() {
    var state = {};
    (location.hash || "").replace(/^#/, "").split("&").forEach(function (pair) {
      if (!pair) { return; }
      var i = pair.indexOf("=");
      var k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
      state[k] = i < 0 ? "" : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, " "));
    });
    return state;
  }

  function init() {
    var cfgEl = el("finder-config");
    if (!cfgEl) { return; }
    var cfg = JSON.parse(cfgEl.textContent);
    var root = cfgEl.getAttribute("data-root") || "";
    var PAGE_SIZE = cfg.page_size || 50;
    var status = el("f-status");
    var rows = [], loaded = {}, shown = [];
    var state = { q: "", sort: "amount", dir: "desc", page: 1 };
    FILTERS.forEach(function (f) { state[f] = ""; });

    function need() {
      if (cfg.single) { return ["all"]; }
      if (state.council) { return [state.council]; }
      return Object.keys(cfg.sources);
    }

    function load(keys, done) {
      var missing = keys.filter(function (k) { return !loaded[k] && cfg.sources[k]; });
      if (!missing.length) { done(); return; }
      status.textContent = "Loading award data…";
      var left = missing.length, failed = [];
      missing.forEach(function (k) {
        var s = document.createElement("script");
        s.src = root + cfg.sources[k];
        s.onload = s.onerror = function (e) {
          if (e.type === "error") { failed.push(cfg.sources[k]); }
          loaded[k] = true;
          chunks.splice(0).forEach(function (c) { rows = rows.concat(decode(c, root, cfg.bands)); });
          left -= 1;
          if (!left) {
            status.textContent = failed.length ? "Could not load " + failed.join(", ") + "." : "";
            done();
          }
        };
        document.head.appendChild(s);
      });
    }

    function options() {
      var values = {};
      FILTERS.forEach(function (f) { values[f] = {}; });
      rows.forEach(function (r) {
        ["department", "funder_type", "policy_area", "fy", "region"].forEach(function (f) {
          if (r[f]) { values[f][r[f]] = true; }
        });
      });
      ["department", "funder_type", "policy_area", "fy", "region"].forEach(function (f) {
        var sel = el("f-" + f);
        if (!sel) { return; }
        var keep = state[f];
        var list = Object.keys(values[f]).sort();
        if (keep && list.indexOf(keep) < 0) { list.push(keep); }
        sel.length = 1;
        list.forEach(function (v) { sel.add(new Option(v, v)); });
        sel.value = keep;
        if (f === "funder_type") { sel.parentNode.hidden = !list.length; }
      });
    }

    function matches(r, words) {
      for (var i = 0; i < words.length; i++) { if (r.text.indexOf(words[i]) < 0) { return false; } }
      if (state.department && r.department !== state.department) { return false; }
      if (state.funder_type && r.funder_type !== state.funder_type) { return false; }
      if (state.policy_area && r.policy_area !== state.policy_area) { return false; }
      if (state.band && r.band !== state.band) { return false; }
      if (state.council && r.la_code !== state.council) { return false; }
      if (state.region && r.region !== state.region) { return false; }
      if (state.fy && r.fy !== state.fy) { return false; }
      return true;
    }

    function writeHash() {
      var parts = [];
      ["q"].concat(FILTERS).forEach(function (k) {
        if (state[k]) { parts.push(k + "=" + encodeURIComponent(state[k])); }
      });
      if (state.sort !== "amount" || state.dir !== "desc") { parts.push("sort=" + state.sort, "dir=" + state.dir); }
      if (state.page > 1) { parts.push("page=" + state.page); }
      var h = parts.length ? "#" + parts.join("&") : "";
      if (h !== location.hash && !(h === "" && location.hash === "#")) {
        history.replaceState(null, "", h || location.pathname + location.search);
      }
      var link = el("f-permalink");
      if (link) { link.href = h || "#"; }
    }

    function cell(tr, text, cls, href) {
      var td = document.createElement("td");
      if (cls) { td.className = cls; }
      if (href) {
        var a = document.createElement("a"); a.href = href; a.textContent = text; td.appendChild(a);
      } else { td.textContent = text; }
      tr.appendChild(td);
      return td;
    }

    function render() {
      var words = state.q.toLowerCase().split(/\s+/).filter(Boolean);
      shown = rows.filter(function (r) { return matches(r, words); });
      var key = state.sort, sign = state.dir === "asc" ? 1 : -1;
      shown.sort(function (a, b) {
        var x = a[key], y = b[key];
        if (key === "amount") { x = x === null ? -Infinity : x; y = y === null ? -Infinity : y; }
        else { x = (x || "").toLowerCase(); y = (y || "").toLowerCase(); }
        return x < y ? -sign : x > y ? sign : (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      });
      var total = 0;
      shown.forEach(function (r) { total += r.amount || 0; });
      var pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
      state.page = Math.min(Math.max(1, state.page), pages);
      var body = el("f-rows");
      body.textContent = "";
      shown.slice((state.page - 1) * PAGE_SIZE, state.page * PAGE_SIZE).forEach(function (r) {
        var tr = document.createElement("tr");
        var th = document.createElement("th");
        th.scope = "row";
        var t = document.createElement("span"); t.className = "f-title"; t.textContent = r.title || "(no title)";
        var who = document.createElement("span"); who.className = "f-who"; who.textContent = r.recipient;
        var sch = document.createElement("span"); sch.className = "f-scheme";
        sch.textContent = r.department + " · " + r.scheme + (r.policy_area ? " · " + r.policy_area : "");
        th.appendChild(t); th.appendChild(who); th.appendChild(sch);
        tr.appendChild(th);
        var c = cell(tr, r.council || "Not placed", "f-council", r.href);
        if (!r.la_code && r.reason) { c.title = r.reason; c.textContent = "Not placed: " + r.reason; }
        cell(tr, gbpFull(r.amount), "num");
        cell(tr, r.date || r.fy, "f-date");
        body.appendChild(tr);
      });
      el("f-total-n").textContent = shown.length.toLocaleString("en-GB") + " award" + (shown.length === 1 ? "" : "s");
      el("f-total-gbp").textContent = gbpFull(total);
      el("f-count").textContent = shown.length.toLocaleString("en-GB") + " of " +
        rows.length.toLocaleString("en-GB") + " awards match, worth " + gbp(total) + ".";
      el("f-page").textContent = "Page " + state.page + " of " + pages;
      el("f-prev").disabled = state.page <= 1;
      el("f-next").disabled = state.page >= pages;
      Array.prototype.forEach.call(document.querySelectorAll("#f-table thead th[data-key]"), function (h) {
        if (h.getAttribute("data-key") === state.sort) {
          h.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending");
        } else { h.removeAttribute("aria-sort"); }
      });
      document.body.setAttribute("data-finder", "ready");
      writeHash();
    }

    function fromHash() {
      var h = readHash();
      state.q = h.q || "";
      FILTERS.forEach(function (f) { state[f] = h[f] || ""; });
      state.sort = h.sort || "amount";
      state.dir = h.dir === "asc" ? "asc" : "desc";
      state.page = parseInt(h.page, 10) || 1;
      el("f-q").value = state.q;
      FILTERS.forEach(function (f) { var s = el("f-" + f); if (s) { s.value = state[f]; } });
    }

    function update() { load(need(), function () { options(); render(); }); }

    // Council, band and region lists come with the page; the others from the data.
    var csel = el("f-council");
    if (csel) { cfg.councils.forEach(function (c) { csel.add(new Option(c[1], c[0])); }); }
    var bsel = el("f-band");
    if (bsel) { cfg.bands.forEach(function (b) { bsel.add(new Option(b.label, b.key)); }); }

    el("f-form").addEventListener("input", function (e) {
      if (e.target.id === "f-q") { state.q = e.target.value; state.page = 1; render(); }
    });
    el("f-form").addEventListener("change", function (e) {
      var f = (e.target.id || "").replace(/^f-/, "");
      if (FILTERS.indexOf(f) >= 0) { state[f] = e.target.value; state.page = 1; update(); }
    });
    el("f-form").addEventListener("submit", function (e) { e.preventDefault(); });
    el("f-clear").addEventListener("click", function () {
      state.q = ""; FILTERS.forEach(function (f) { state[f] = ""; }); state.page = 1;
      el("f-q").value = ""; FILTERS.forEach(function (f) { var s = el("f-" + f); if (s) { s.value = ""; } });
      update();
    });
    el("f-prev").addEventListener("click", function () { state.page -= 1; render(); });
    el("f-next").addEventListener("click", function () { state.page += 1; render(); });
    Array.prototype.forEach.call(document.querySelectorAll("#f-table thead th[data-key] button"), function (b) {
      b.addEventListener("click", function () {
        var k = b.parentNode.getAttribute("data-key");
        if (state.sort === k) { state.dir = state.dir === "asc" ? "desc" : "asc"; }
        else { state.sort = k; state.dir = k === "amount" ? "desc" : "asc"; }
        state.page = 1;
        render();
      });
    });
    el("f-download").addEventListener("click", function () {
      var blob = new Blob([toCsv(shown)], { type: "text/csv;charset=utf-8" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = cfg.download || "spendmap_awards.csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    });
    window.addEventListener("hashchange", function () { fromHash(); update(); });
    window.spendmapFinder = { csv: function () { return toCsv(shown); }, shown: function () { return shown.length; } };
    fromHash();
    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
