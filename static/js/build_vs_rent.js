// Refills the build-versus-rent inputs from the rate card when another GPU type is chosen (the chart: figures.js).
(function () {
  const form = document.getElementById("build-rent-form");
  const type = form && form.elements["gpu_type"];
  if (type) type.addEventListener("change", () => form.requestSubmit());
})();
