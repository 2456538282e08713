// The overview's charts, drawn by the vendored Chart.js from data the server put in
// <script type="application/json"> elements. The data is parsed, never evaluated, and
// Chart.js paints labels on a canvas, so a hostile flow or entity name stays text.
(function () {
  "use strict";

  function readData(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function drawRuns(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Written", data: data.written, backgroundColor: "#2e7d32" },
          { label: "Rejected", data: data.rejected, backgroundColor: "#c62828" }
        ]
      },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
    });
  }

  function drawQueue(canvas, data) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Open errors", data: data.open, borderColor: "#ef6c00", fill: false, tension: 0 }
        ]
      },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
    });
  }

  function draw() {
    var charts = [["chart-runs", drawRuns], ["chart-queue", drawQueue]];
    charts.forEach(function (entry) {
      var canvas = document.getElementById(entry[0]);
      var data = readData(entry[0] + "-data");
      if (canvas && data && typeof Chart !== "undefined") {
        entry[1](canvas, data);
        canvas.setAttribute("data-drawn", "true");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
