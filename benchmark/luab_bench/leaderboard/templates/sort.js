(function () {
  "use strict";
  function cellKey(td) {
    var raw = td.getAttribute("data-sort");
    if (raw === null) { raw = td.textContent.trim(); }
    var num = parseFloat(raw);
    return { raw: raw, num: num, isNum: raw !== "" && !isNaN(num) && isFinite(raw) };
  }
  function compare(a, b, asc) {
    // empty cells (metric not measured) always sort last, whichever the direction
    if (a.raw === "" || b.raw === "") { return (a.raw === "") - (b.raw === ""); }
    var c = (a.isNum && b.isNum) ? a.num - b.num : a.raw.localeCompare(b.raw, undefined, { numeric: true });
    return asc ? c : -c;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, col) {
      th.tabIndex = 0;
      function sortBy() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          return compare(cellKey(r1.cells[col]), cellKey(r2.cells[col]), asc);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sortBy);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(); }
      });
    });
  });
})();
