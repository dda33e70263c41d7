// Draws the Founder Table's eight-week spend chart from the figure the server put in the page (json_script).
(function () {
  const figures = JSON.parse(document.getElementById("founder-figures").textContent);
  for (const [name, figure] of Object.entries(figures)) {
    const element = document.getElementById("chart-" + name);
    if (element) Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: window.matchMedia("(min-width: 700px)").matches ? "hover" : false });
  }
})();
