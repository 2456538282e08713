// The revenue dashboard's charts, drawn by the vendored Chart.js from the JSON the server put
// in <script type="application/json" id="revenue-chart-data">. The data is parsed, never
// evaluated, and Chart.js paints labels on a canvas, so no stored value becomes markup.
(function () {
  "use strict";

  var OPTIONS = { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } };
  var AGING_COLOURS = ["#2e7d32", "#f9a825", "#ef6c00", "#d84315", "#b71c1c"];

  function drawn(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "true");
  }

  function draw() {
    var element = document.getElementById("revenue-chart-data");
    if (!element || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(element.textContent);
    drawn("chart-arr", {
      type: "line",
      data: { labels: data.labels, datasets: [
        { label: "ARR", data: data.arr, borderColor: "#1565c0", fill: false, tension: 0 }
      ] },
      options: OPTIONS
    });
    drawn("chart-cash", {
      type: "bar",
      data: { labels: data.labels, datasets: [
        { label: "Billings", data: data.billings, backgroundColor: "#1565c0" },
        { label: "Collections", data: data.collections, backgroundColor: "#2e7d32" }
      ] },
      options: OPTIONS
    });
    drawn("chart-aging", {
      type: "bar",
      data: { labels: data.labels, datasets: data.aging.map(function (bucket, index) {
        return { label: bucket.name, data: bucket.data, backgroundColor: AGING_COLOURS[index % AGING_COLOURS.length] };
      }) },
      options: { animation: false, maintainAspectRatio: false,
                 scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
