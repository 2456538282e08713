// Small behaviours of the console's pages that htmx attributes cannot express.
(function () {
  "use strict";

  // "Select all" on the error queue ticks every row shown, including rows htmx swapped in.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) {
      return;
    }
    var form = box.closest("form");
    form.querySelectorAll("input[name='ids']").forEach(function (row) {
      row.checked = box.checked;
    });
  });
})();
