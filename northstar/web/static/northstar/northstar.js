// Northstar's only hand-written script. Every page works without it; this adds
// copy buttons, submit-on-change selects, confirmation prompts and small review helpers.
(function () {
  "use strict";

  function copyFrom(button) {
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    function done(text) {
      var label = button.textContent;
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    function selectIt() {
      input.focus();
      input.select();
      input.setSelectionRange(0, input.value.length);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { done("Copied"); },
        function () { selectIt(); done("Press Ctrl+C"); }
      );
    } else {
      // Plain http (common on a LAN) has no clipboard API: select the text instead.
      selectIt();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      done(copied ? "Copied" : "Press Ctrl+C");
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var copy = target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      copyFrom(copy);
      return;
    }
    var confirmer = target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLSelectElement) || !target.form) return;
    if (target.hasAttribute("data-autosubmit")) {
      target.form.submit();
    } else if (target.hasAttribute("data-autosubmit-htmx") && window.htmx) {
      window.htmx.trigger(target.form, "submit");
    }
  });
})();

// Code review: a reply form empties itself once htmx saved the draft; "Cancel" in an
// inline comment form removes its row.
(function () {
  "use strict";
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success") && event.detail.successful) {
      form.reset();
      var errors = form.querySelector(".form-errors");
      if (errors) errors.textContent = "";
    }
  });
  // A second click on a line number goes to the form already open under it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var link = event.target;
    if (!(link instanceof Element) || !link.matches("a.ln-c")) return;
    var row = link.closest("tr");
    var next = row && row.nextElementSibling;
    if (next && next.classList.contains("comment-form-row")) {
      event.preventDefault();
      var box = next.querySelector("textarea");
      if (box) box.focus();
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var remover = target.closest("[data-remove-row]");
    if (remover) {
      var row = remover.closest("tr");
      if (row) row.remove();
    }
  });
})();
