// Draws the Founder Table's eight-week spend chart from the figure the server put in the page (json_script); a
// click on a bar opens the explorer filtered to its bucket and week (the bar's customdata).
(function () {
  const figures = JSON.parse(document.getElementById("founder-figures").textContent);
  for (const [name, figure] of Object.entries(figures)) {
    const element = document.getElementById("chart-" + name);
    if (!element) continue;
    Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: window.matchMedia("(min-width: 700px)").matches ? "hover" : false });
    element.on("plotly_click", function (event) {  // a bar opens the explorer on its bucket and week
      const point = event.points && event.points[0];
      if (point && point.customdata) window.location.assign(point.customdata);
    });
  }
})();
