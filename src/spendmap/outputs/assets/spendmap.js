/* spendmap pages: sortable/filterable council table, the small-grants chart, the Sankey weight switch.
   Plain JavaScript, no network: data comes from <script type="application/json"> blocks in the page. */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // No mode bar: it covered legends and labels on phones, and zooming adds nothing to these charts.
  var PLOT_CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  /* ---- council table: sort by a column, filter by search box / region / type ---- */
  function initTable() {
    var table = document.getElementById("councils");
    if (!table) { return; }
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var headers = table.tHead.rows[0].cells;
    var search = document.getElementById("council-search");
    var region = document.getElementById("region-filter");
    var tier = document.getElementById("tier-filter");
    var count = document.getElementById("council-count");

    function cellKey(row, i, type) {
      var v = row.cells[i].getAttribute("data-sort");
      if (v === null) { v = row.cells[i].textContent; }
      if (type === "num") {
        var n = parseFloat(v);
        return isNaN(n) ? -Infinity : n;
      }
      return v.toLowerCase();
    }

    Array.prototype.forEach.call(headers, function (th, i) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var type = th.getAttribute("data-type");
        // Numbers sort largest first on the first click; text A–Z.
        var current = th.getAttribute("aria-sort");
        var dir = current ? (current === "ascending" ? "descending" : "ascending")
                          : (type === "num" ? "descending" : "ascending");
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var sign = dir === "ascending" ? 1 : -1;
        rows.sort(function (a, b) {
          var ka = cellKey(a, i, type), kb = cellKey(b, i, type);
          return ka < kb ? -sign : ka > kb ? sign : 0;
        });
        var frag = document.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r); });
        tbody.appendChild(frag);
      });
    });

    function applyFilter() {
      var q = (search.value || "").trim().toLowerCase();
      var reg = region ? region.value : "";
      var ti = tier ? tier.value : "";
      var shown = 0;
      rows.forEach(function (r) {
        var ok = (!q || r.getAttribute("data-search").indexOf(q) !== -1) &&
                 (!reg || r.getAttribute("data-region") === reg) &&
                 (!ti || r.getAttribute("data-tier") === ti);
        r.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = "Showing " + shown + " of " + rows.length + " councils.";
      // The councils without placed awards, listed under the table, answer the same search.
      var others = document.querySelectorAll("#no-award-councils .no-award"), more = 0;
      Array.prototype.forEach.call(others, function (el) {
        var ok = (!q || el.getAttribute("data-search").indexOf(q) !== -1) &&
                 (!reg || el.getAttribute("data-region") === reg) &&
                 (!ti || el.getAttribute("data-tier") === ti);
        el.hidden = !ok;
        if (ok) { more += 1; }
      });
      if (others.length && more < others.length) {
        count.textContent += " " + more + " of the " + others.length + " councils with no placed award match.";
      }
    }
    search.addEventListener("input", applyFilter);
    if (region) { region.addEventListener("change", applyFilter); }
    if (tier) { tier.addEventListener("change", applyFilter); }
    applyFilter();
  }

  /* ---- small-grants chart: small vs other awards per council, two scopes, pilots selectable ---- */
  function initSmallGrants() {
    var data = readJson("small-grants-data");
    var gd = document.getElementById("small-grants-chart");
    if (!data || !gd || typeof Plotly === "undefined") { return; }
    var form = document.getElementById("sg-controls");
    var empty = document.getElementById("small-grants-empty");

    function checkedValue(name) {
      var el = form.querySelector("input[name='" + name + "']:checked");
      return el ? el.value : null;
    }

    function draw() {
      var scope = checkedValue("sg-scope");
      var set = checkedValue("sg-set");
      var chosen = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[name='sg-pilot']"), function (c) {
        c.disabled = set !== "pilots";
        if (c.checked) { chosen[c.value] = true; }
      });
      var list = data.councils.filter(function (c) {
        return set === "pilots" ? chosen[c.la_code] : true;
      }).filter(function (c) { return c.scopes[scope] && c.scopes[scope].n_awards > 0; });
      if (set !== "pilots") {
        list.sort(function (a, b) { return b.scopes[scope].n_awards - a.scopes[scope].n_awards; });
        list = list.slice(0, 40);
      }
      // Largest at the top of a horizontal bar chart.
      list.sort(function (a, b) { return a.scopes[scope].n_awards - b.scopes[scope].n_awards; });
      empty.hidden = list.length > 0;
      Array.prototype.forEach.call(document.querySelectorAll("#small-grants-missing li"), function (li) {
        li.hidden = set !== "pilots" || li.getAttribute("data-scope") !== scope || !chosen[li.getAttribute("data-code")];
      });
      // Phones: shorter council names, so the bars keep most of the width.
      var narrow = gd.clientWidth < 560;
      var seenName = {};
      var names = list.map(function (c) {
        var n = c.la_name, short = narrow && n.length > 16 ? n.slice(0, 15) + "…" : n;
        // Bars are keyed by name: two councils must never share a shortened one.
        short = seenName[short] ? n : short;
        seenName[short] = true;
        return short;
      });
      var small = list.map(function (c) { return c.scopes[scope].n_small; });
      var other = list.map(function (c) { return c.scopes[scope].n_awards - c.scopes[scope].n_small; });
      var share = list.map(function (c) {
        var s = c.scopes[scope].share_small;
        return s === null ? "–" : Math.round(s * 100) + "%";
      });
      var full = list.map(function (c) { return c.la_name; });
      var traces = [
        { type: "bar", orientation: "h", name: "Under " + data.threshold_label, y: names, x: small,
          marker: { color: "#0072B2" }, customdata: share, text: share, textposition: "inside",
          insidetextanchor: "start", textangle: 0, hovertext: full,
          hovertemplate: "%{hovertext}<br>%{x:,} awards under " + data.threshold_label +
                         " (%{customdata} of awards tested)<extra></extra>" },
        { type: "bar", orientation: "h", name: data.threshold_label + " or more", y: names, x: other,
          marker: { color: "#B8C4CE" }, hovertext: full,
          hovertemplate: "%{hovertext}<br>%{x:,} awards of " + data.threshold_label + " or more<extra></extra>" }
      ];
      var most = Math.max.apply(null, [1].concat(list.map(function (c) { return c.scopes[scope].n_awards; })));
      var layout = {
        barmode: "stack", height: Math.max(260, 26 * list.length + 130),
        // The legend sits above the plot area (never over a bar) and wraps on a phone.
        margin: { l: 10, r: 16, t: 56, b: 40 },
        legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom", traceorder: "normal" },
        // The axis always reaches the largest bar (plus room), whatever the width.
        xaxis: { title: { text: "Number of awards" }, automargin: true, tickformat: ",d",
                 dtick: most < 10 ? 1 : null, range: [0, most * 1.06], fixedrange: true },
        yaxis: { automargin: true, type: "category", fixedrange: true },
        uniformtext: { mode: "hide", minsize: 9 },
        font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: narrow ? 11 : 12 }
      };
      Plotly.react(gd, traces, layout, PLOT_CONFIG);
    }
    form.addEventListener("change", draw);
    draw();
  }

  function unescapeLabel(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }
  function escapeLabel(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  /* ---- Sankey pages: draw the figure and switch link weight between count and £ ---- */
  function initSankey() {
    var fig = readJson("sankey-data");
    var gd = document.getElementById("sankey");
    if (!fig || !gd || typeof Plotly === "undefined") { return; }
    var full = fig.data[0].node.label.slice();
    // Middle-layer nodes are both a link source and a target; on narrow screens their labels get less room.
    var isSource = {}, isTarget = {};
    fig.data[0].link.source.forEach(function (i) { isSource[i] = true; });
    fig.data[0].link.target.forEach(function (i) { isTarget[i] = true; });
    function fit() {
      var narrow = gd.clientWidth < 640;
      var labels = full.map(function (l, i) {
        if (!narrow) { return l; }
        // Labels arrive HTML-escaped: shorten the text itself, then escape again (never cut "&amp;").
        var name = unescapeLabel(l.split(" · ")[0]);
        // The middle column's labels and the last column's (drawn leftwards) share one gap: both short.
        var room = isSource[i] && isTarget[i] ? 11 : (isTarget[i] ? 12 : 16);
        return escapeLabel(name.length > room ? name.slice(0, room - 1) + "…" : name);
      });
      return { labels: labels, size: narrow ? 10 : 12 };
    }
    var f = fit();
    fig.data[0].node.label = f.labels;
    fig.layout.font.size = f.size;
    // After every draw: hide any label that would overlap one already kept, largest node first (by the
    // measure shown: node height), so the labels that give way are always those of smaller nodes. The
    // hidden ones stay in the hover text and in the table below the diagram.
    function declutter() {
      var nodes = Array.prototype.slice.call(gd.querySelectorAll(".sankey-node"));
      var heights = nodes.map(function (n) { return n.querySelector("rect").getBoundingClientRect().height; });
      var order = nodes.map(function (n, i) { return i; }).sort(function (a, b) {
        return (heights[b] - heights[a]) || (a - b);
      });
      var kept = [];
      // Touching counts as a clash: labels need a few pixels between them to be read apart.
      function clashes(r) {
        return kept.some(function (k) {
          return Math.min(r.right, k.right) - Math.max(r.left, k.left) > -4 &&
                 Math.min(r.bottom, k.bottom) - Math.max(r.top, k.top) > -2;
        });
      }
      order.forEach(function (i) {
        var t = nodes[i].querySelector("text");
        if (!t) { return; }
        t.style.visibility = "";
        // A label this function shortened last time starts again from its full text (a label Plotly
        // has since redrawn is taken as it now is).
        if (t.getAttribute("data-short") !== t.textContent) { t.setAttribute("data-full", t.textContent); }
        var full = t.getAttribute("data-full");
        t.textContent = full;
        var r = t.getBoundingClientRect();
        if (!clashes(r)) { if (r.width > 0) { kept.push(r); } return; }
        // Before giving way, a label tries shorter names with its figures kept ("Highways Main… · £27.2m"),
        // then its figures alone; only if even those clash is it hidden.
        var cut = full.indexOf(" · ");
        var name = cut > 0 ? full.slice(0, cut) : full;
        var figures = cut > 0 ? full.slice(cut + 3) : "";
        var tries = [0.6, 0.4, 0.25].map(function (f) {
          var n = Math.max(4, Math.floor(name.length * f));
          return n < name.length ? name.slice(0, n).trim() + "…" + (figures ? " · " + figures : "") : null;
        }).filter(Boolean);
        if (figures) { tries.push(figures); }
        for (var j = 0; j < tries.length; j++) {
          t.textContent = tries[j];
          r = t.getBoundingClientRect();
          if (!clashes(r)) {
            t.setAttribute("data-short", tries[j]);
            kept.push(r);
            return;
          }
        }
        t.textContent = full;
        t.removeAttribute("data-short");
        t.style.visibility = "hidden";
      });
      postHeight();
    }
    Plotly.newPlot(gd, fig.data, fig.layout, PLOT_CONFIG).then(declutter);
    gd.on("plotly_afterplot", declutter);
    window.addEventListener("resize", function () {
      var g = fit();
      Plotly.restyle(gd, { "node.label": [g.labels] }, [0]);
      Plotly.relayout(gd, { "font.size": g.size });
    });
    var weights = fig.weights;
    if (!weights) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("input[name='weight']"), function (input) {
      input.addEventListener("change", function () {
        if (input.checked) {
          Plotly.restyle(gd, { "link.value": [weights[input.value]] }, [0]);
          gd.setAttribute("data-weight", input.value);
        }
      });
    });
    gd.setAttribute("data-weight", "gbp");
  }

  /* ---- a page shown in a frame tells its parent how tall it is, so the frame never cuts it off
     (postMessage works between file:// pages, where the parent cannot read the frame's document) ---- */
  function postHeight() {
    if (window.parent === window) { return; }
    // The body's own height, not the document's scrollHeight (never less than the frame: it could not shrink).
    var h = Math.ceil(document.body.getBoundingClientRect().bottom + window.scrollY);
    window.parent.postMessage({ spendmapFrameHeight: h }, "*");
  }

  function initFrames() {
    var frames = document.querySelectorAll("iframe.sankey-frame");
    if (!frames.length) { return; }
    window.addEventListener("message", function (e) {
      var h = e.data && e.data.spendmapFrameHeight;
      if (typeof h !== "number" || !isFinite(h) || h <= 0) { return; }
      Array.prototype.forEach.call(frames, function (f) {
        if (f.contentWindow === e.source) { f.style.height = Math.min(h + 4, 20000) + "px"; }
      });
    });
    // A frame that drew before this listener existed is asked again once it has loaded.
    Array.prototype.forEach.call(frames, function (f) {
      f.addEventListener("load", function () {
        if (f.contentWindow) { f.contentWindow.postMessage({ spendmapAskHeight: true }, "*"); }
      });
    });
  }

  /* ---- hex map: recolour by the chosen figure (colours are precomputed per hexagon) ---- */
  function initHexmap() {
    var select = document.getElementById("hex-figure");
    var svg = document.getElementById("hexmap");
    if (!select || !svg) { return; }
    select.addEventListener("change", function () {
      var key = select.value;
      Array.prototype.forEach.call(svg.querySelectorAll("polygon"), function (p) {
        p.setAttribute("fill", p.getAttribute("data-" + key));
      });
      Array.prototype.forEach.call(document.querySelectorAll(".hex-legend"), function (l) {
        l.hidden = l.getAttribute("data-figure") !== key;
      });
    });
  }

  function init() {
    // Inside a frame the page is as tall as its content: no scrollbar, so no gutter kept for one.
    if (window.parent !== window) { document.documentElement.style.scrollbarGutter = "auto"; }
    initFrames(); initTable(); initSmallGrants(); initSankey(); initHexmap();
    if (document.body.classList.contains("sankey-page")) {
      postHeight();
      window.addEventListener("load", postHeight);
      window.addEventListener("resize", postHeight);
      window.addEventListener("message", function (e) {
        if (e.data && e.data.spendmapAskHeight) { postHeight(); }
      });
      // Whatever reflows the page later (a redraw, a font, a wrapped legend) reports its new height too.
      if (window.ResizeObserver) { new ResizeObserver(postHeight).observe(document.body); }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
