// Draws the analytics charts from the JSON the page embeds (Chart.js, served locally).
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const brand = "#0b5d3b", accent = "#1f6feb";
  function chart(id, config) { const el = document.getElementById(id); if (el && window.Chart) new Chart(el, config); }
  if (window.Chart) { Chart.defaults.animation = false; Chart.defaults.elements.point.radius = 4; }
  chart("volume-chart", {type: "bar", data: {labels: data.volume.labels, datasets: [
    {label: "Sales", data: data.volume.counts, backgroundColor: brand, yAxisID: "y"},
    {label: "Value", data: data.volume.totals, type: "line", borderColor: accent, yAxisID: "y1"}]},
    options: {scales: {y: {beginAtZero: true, title: {display: true, text: "Sales"}},
                       y1: {position: "right", beginAtZero: true, grid: {drawOnChartArea: false}, title: {display: true, text: "Value"}}}}});
  chart("top-chart", {type: "bar", data: {labels: data.top_items.labels, datasets: [
    {label: "Net value", data: data.top_items.net, backgroundColor: brand}]}, options: {indexAxis: "y"}});
  if (data.conversion) chart("conversion-chart", {type: "line", data: {labels: data.conversion.labels, datasets: [
    {label: "Conversion rate (%)", data: data.conversion.rates, borderColor: brand}]}, options: {scales: {y: {min: 0, max: 100}}}});
  if (data.pipeline) chart("pipeline-chart", {type: "bar", data: {labels: data.pipeline.labels, datasets: [
    {label: "Open deal value", data: data.pipeline.amounts, backgroundColor: accent}]}});
  // Heatmap shading: darker = busier.
  const cells = document.querySelectorAll("td.heat");
  const max = Math.max(1, ...Array.from(cells, (c) => Number(c.dataset.count)));
  cells.forEach((c) => { const n = Number(c.dataset.count); if (n) {
    const a = 0.15 + 0.85 * n / max; c.style.background = `rgba(11, 93, 59, ${a})`; if (a > 0.5) c.style.color = "#fff"; } });
})();
