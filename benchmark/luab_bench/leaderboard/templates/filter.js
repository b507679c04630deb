(function () {
  "use strict";
  // Filters: backbone, suite, protocol, verified-only; applied to every table.filterable row with data-*.
  var model = document.getElementById("f-model");
  var suite = document.getElementById("f-suite");
  var protocol = document.getElementById("f-protocol");
  var verified = document.getElementById("f-verified");
  var count = document.getElementById("f-count");
  if (!model || !suite || !protocol || !verified) { return; }
  function apply() {
    var shown = 0, total = 0;
    document.querySelectorAll("table.filterable tbody tr").forEach(function (tr) {
      var ok = (!model.value || tr.getAttribute("data-model") === model.value) &&
        (!suite.value || tr.getAttribute("data-suite") === suite.value) &&
        (!protocol.value || tr.getAttribute("data-protocol") === protocol.value) &&
        (!verified.checked || tr.getAttribute("data-status") === "verified" || tr.getAttribute("data-status") === "reported");
      tr.hidden = !ok;
      if (tr.parentNode.parentNode.id === "leaderboard") { total += 1; if (ok) { shown += 1; } }
    });
    if (count) { count.textContent = shown + " of " + total + " results shown"; }
  }
  [model, suite, protocol, verified].forEach(function (el) { el.addEventListener("change", apply); });
  apply();
})();
