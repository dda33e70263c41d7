// Drag a bill onto the drop zone: it fills the file field; the button shows the upload is under way.
(function () {
  const zone = document.querySelector("[data-dropzone]");
  if (!zone) return;
  const input = zone.querySelector("input[type=file]");
  const label = zone.querySelector("[data-filename]");
  const show = () => { if (input.files.length) label.textContent = input.files[0].name; };
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    show();
  });
  input.addEventListener("change", show);
  zone.closest("form").addEventListener("submit", () => {
    const button = zone.closest("form").querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = "Uploading…";
  });
})();
