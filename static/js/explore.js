// The explorer: draws the stacked bars from the figure the server put in the page (json_script); a click on a
// segment follows its link (the filter narrowed to that value), a click on a table row its drill-down link; a
// click on a column of the source rows sorts that page of rows.
(function () {
  const data = document.getElementById("explore-figure");
  const chart = document.getElementById("chart-explore");
  if (data && chart && window.Plotly) {
    const figure = JSON.parse(data.textContent);
    const wide = window.matchMedia("(min-width: 700px)").matches;
    Plotly.newPlot(chart, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: wide ? "hover" : false });
    chart.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point && point.customdata) window.location.assign(point.customdata);
    });
  }
  document.querySelectorAll("tr.clickable[data-href]").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a")) return;
      window.location.assign(row.dataset.href);
    });
  });
  const lines = document.getElementById("explore-lines");
  if (!lines) return;
  lines.querySelectorAll("th[data-sort]").forEach(function (header, column) {
    header.tabIndex = 0;
    let ascending = true;
    const sort = function () {
      const body = lines.tBodies[0];
      const rows = Array.from(body.rows).filter(function (r) { return r.cells.length > 1; });
      const value = function (row) {
        const cell = row.cells[column];
        const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
        return header.dataset.sort === "number" ? (raw === "" ? -Infinity : parseFloat(raw)) : raw.toLowerCase();
      };
      rows.sort(function (a, b) {
        const x = value(a), y = value(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
      lines.querySelectorAll("th[data-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      ascending = !ascending;
    };
    header.addEventListener("click", sort);
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
  });
})();
