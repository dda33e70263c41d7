// Site-wide behaviour, loaded by every page (CSP: no inline handlers). A form with `data-confirm="..."` asks that
// question before it submits; a button with `data-copy="<element id>"` copies that element's text to the clipboard.
(function () {
  document.addEventListener("submit", (event) => {
    const question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    const label = button.textContent;
    navigator.clipboard.writeText(source.textContent.trim()).then(
      () => { button.textContent = "Copied"; },
      () => { button.textContent = "Copy failed: select the text"; },
    ).finally(() => setTimeout(() => { button.textContent = label; }, 2000));
  });
})();
