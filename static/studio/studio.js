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
  // Forms marked data-busy-form submit once: the button shows progress and stops a double
  // click from sending a second request (the server also refuses a repeated launch key).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-busy-form]") || event.defaultPrevented) return;
    if (form.dataset.submitted) { event.preventDefault(); return; }
    form.dataset.submitted = "1";
    var button = event.submitter || form.querySelector("[type=submit]");
    if (button && button.dataset.busyLabel) {
      setTimeout(function () {
        button.disabled = true;
        button.innerHTML = '<span class="spinner" aria-hidden="true"></span> ' + button.dataset.busyLabel;
      }, 0);
    }
  });
  // Links that need a confirmation first (e.g. joining a video as a supervisor).
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-confirm-link]");
    if (link && !window.confirm(link.dataset.confirmLink)) event.preventDefault();
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
