// Small page helpers shared by every page. No framework: htmx does the heavy lifting.
(function () {
  "use strict";
  // Buttons with data-confirm ask before their form submits (End, Delete, Archive).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("htmx:confirm", function (event) {
    var message = event.detail.elt.dataset && event.detail.elt.dataset.confirm;
    if (message && event.detail.elt.tagName !== "FORM") {
      event.preventDefault();
      if (window.confirm(message)) event.detail.issueRequest(true);
    }
  });
  // Copy-to-clipboard buttons: <button data-copy="text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
})();
