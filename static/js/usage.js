// Draws the LLM usage page's charts from the figures the server put in the page (json_script).
(function () {
  const figures = JSON.parse(document.getElementById("usage-figures").textContent);
  for (const [name, figure] of Object.entries(figures)) {
    const element = document.getElementById("chart-" + name);
    if (element) Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
  }
})();
