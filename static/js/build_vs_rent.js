// Draws the build-versus-rent chart from the figure the server put in the page (json_script), and refills the
// inputs from the rate card when another GPU type is chosen.
(function () {
  const data = document.getElementById("build-rent-figures");
  const figures = data ? JSON.parse(data.textContent) : null;
  for (const [name, figure] of Object.entries(figures || {})) {
    const element = document.getElementById("chart-" + name);
    if (element) Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: window.matchMedia("(min-width: 700px)").matches ? "hover" : false });
  }
  const form = document.getElementById("build-rent-form");
  const type = form && form.elements["gpu_type"];
  if (type) type.addEventListener("change", () => form.requestSubmit());
})();
