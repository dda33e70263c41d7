// Draws the guided pricing check's waterfall from the figure the server put in the page (json_script).
(function () {
  const source = document.getElementById("pricing-check-figures");
  if (!source) return;
  const figures = JSON.parse(source.textContent);
  for (const [name, figure] of Object.entries(figures)) {
    const element = document.getElementById("chart-" + name);
    if (element) Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: window.matchMedia("(min-width: 700px)").matches ? "hover" : false });
  }
})();
