// Draws every chart of a page from the figures the server put in it (json_script, an id ending in "figures"): each
// figure named N goes into the element #chart-N. A point whose customdata is a link (a bar of cost) opens it: the
// explorer filtered to the cost that bar shows.
(function () {
  const toolbar = window.matchMedia("(min-width: 700px)").matches ? "hover" : false;
  for (const source of document.querySelectorAll('script[type="application/json"][id$="figures"]')) {
    const figures = JSON.parse(source.textContent) || {};
    for (const [name, figure] of Object.entries(figures)) {
      const element = document.getElementById("chart-" + name);
      if (!element) continue;
      Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: toolbar });
      element.on("plotly_click", function (event) {
        const point = event.points && event.points[0];
        const link = point && point.customdata;
        if (typeof link === "string" && link.startsWith("/")) window.location.assign(link);
      });
    }
  }
})();
