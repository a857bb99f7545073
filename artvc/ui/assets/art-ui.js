/* art ui: the little script of the dashboard's pages (every page also reads without it).
   - run page: a click on a DAG node (a link to #step-N) shows that step's detail section;
   - tables whose headers have data-sort-key sort on click (aria-sort says how);
   - runs page: the filter inputs hide the rows that do not match (also from ?pipeline=&stage=&branch=);
   - experiments page: the ticked experiments' series are the ones shown in the plots.
   No network: the script reads the page (and its art-data JSON block) only. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  /* -- run page: one step detail at a time ------------------------------------------------------------- */
  function showStep(id, focus) {
    var sections = all('[data-testid="step-detail"]');
    if (!sections.length) return;
    var chosen = sections.filter(function (s) { return s.id === id; })[0] || sections[0];
    sections.forEach(function (s) { s.classList.toggle("shown", s === chosen); });
    var step = chosen.getAttribute("data-step");
    all('[data-testid="dag-node"]').forEach(function (n) {
      var on = n.getAttribute("data-step") === step;
      n.classList.toggle("selected", on);
      var a = n.querySelector("a");
      if (a) a.setAttribute("aria-current", on ? "true" : "false");
    });
    if (focus) chosen.focus({ preventScroll: true });
  }
  function initSteps() {
    if (!document.querySelector('[data-testid="step-detail"]')) return;
    showStep(location.hash.slice(1), false);
    window.addEventListener("hashchange", function () { showStep(location.hash.slice(1), true); });
    all('[data-testid="dag-node"]').forEach(function (n) {
      n.addEventListener("click", function (ev) {
        var a = n.querySelector("a");
        if (!a) return;
        ev.preventDefault();
        var id = a.getAttribute("href").slice(1);
        if (history.replaceState) history.replaceState(null, "", "#" + id);
        showStep(id, true);
      });
    });
  }

  /* -- sortable tables ----------------------------------------------------------------------------------- */
  function cellValue(row, index) {
    var cell = row.children[index];
    if (!cell) return "";
    var v = cell.getAttribute("data-sort-value");
    return v !== null ? v : cell.textContent.trim();
  }
  function compare(a, b) {
    if (a === b) return 0;
    if (a === "") return 1;  /* empty cells last, whichever the direction */
    if (b === "") return -1;
    var x = Number(a), y = Number(b);
    if (!isNaN(x) && !isNaN(y)) return x - y;
    return a < b ? -1 : 1;
  }
  function sortBy(th) {
    var table = th.closest("table");
    var body = table && table.tBodies[0];
    if (!body) return;
    var index = th.cellIndex;
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    all("th[data-sort-key]", table).forEach(function (h) { h.setAttribute("aria-sort", h === th ? dir : "none"); });
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) { return [cellValue(r, index), i, r]; });
    rows.sort(function (p, q) {
      if (p[0] === "" || q[0] === "") return compare(p[0], q[0]) || p[1] - q[1];
      return sign * compare(p[0], q[0]) || p[1] - q[1];
    });
    table.classList.add("all");  /* a sorted table shows every row */
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r[2]); });
    body.appendChild(frag);
  }
  function initSort() {
    all("th[data-sort-key]").forEach(function (th) {
      if (!th.hasAttribute("aria-sort")) th.setAttribute("aria-sort", "none");
      th.addEventListener("click", function () { sortBy(th); });
    });
    all("[data-show-all]").forEach(function (a) {
      a.addEventListener("click", function () {
        var t = document.getElementById(a.getAttribute("data-show-all"));
        if (t) t.classList.add("all");
      });
    });
  }

  /* -- runs filter ---------------------------------------------------------------------------------------- */
  function initFilters() {
    var form = document.querySelector('[data-testid="runs-filters"]');
    if (!form) return;
    var inputs = ["pipeline", "stage", "branch"].map(function (k) {
      return form.querySelector('[data-testid="filter-' + k + '"]');
    });
    var params = new URLSearchParams(location.search);
    inputs.forEach(function (input) {
      if (input && params.get(input.name) && !input.value) input.value = params.get(input.name);
    });
    var rows = all('[data-testid="run-row"]');
    var count = form.querySelector('[data-testid="runs-count"]');
    function has(text, want) { return !want || String(text).toLowerCase().indexOf(want) !== -1; }
    function apply() {
      var want = inputs.map(function (i) { return i ? i.value.trim().toLowerCase() : ""; });
      var shown = 0;
      rows.forEach(function (row) {
        var steps = [];
        try { steps = JSON.parse(row.getAttribute("data-steps") || "[]"); } catch (e) { steps = []; }
        var ok = has(row.getAttribute("data-pipeline") || "", want[0]) &&
          (!want[1] || steps.some(function (s) { return has(s, want[1]); })) &&
          has(row.getAttribute("data-branch") || "", want[2]);
        row.hidden = !ok;
        if (ok) shown += 1;
      });
      if (count) count.textContent = shown + " of " + rows.length + " shown";
    }
    inputs.forEach(function (i) { if (i) i.addEventListener("input", apply); });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); apply(); });
    apply();
  }

  /* -- experiments: the plotted series follow the ticked rows --------------------------------------------- */
  function initExperiments() {
    var boxes = all('[data-testid="exp-select"]');
    var plots = document.querySelector('[data-testid="exp-plots"]');
    if (!boxes.length || !plots) return;
    function apply() {
      var names = {};
      boxes.forEach(function (b) {
        if (!b.checked) return;
        var row = b.closest("tr");
        names[b.value] = true;
        var commit = row && row.getAttribute("data-commit");
        if (commit) { names[commit] = true; names[commit.slice(0, 7)] = true; names[commit.slice(0, 10)] = true; }
      });
      var revs = {};
      all("[data-rev]", plots).forEach(function (el) { revs[el.getAttribute("data-rev")] = true; });
      var known = boxes.some(function (b) { return revs[b.value]; });
      all("[data-rev]", plots).forEach(function (el) {
        var rev = el.getAttribute("data-rev");
        el.classList.toggle("off", known && !names[rev]);
      });
      all("g.legend", plots).forEach(function (g) {
        var text = g.textContent;
        var rev = Object.keys(revs).filter(function (r) { return text === r || text.indexOf(r + ": ") === 0; })[0];
        g.classList.toggle("off", known && rev !== undefined && !names[rev]);
      });
    }
    boxes.forEach(function (b) { b.addEventListener("change", apply); });
    apply();
  }

  function init() { initSteps(); initSort(); initFilters(); initExperiments(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
