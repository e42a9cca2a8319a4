// Share links: the Share button's dialog (POST /api/shares, then show the link with a copy
// button), copy buttons, and revoke buttons on /shares. No inline script: CSP allows none.
"use strict";
(function () {
  if (window.shoeboxShare) return; // included once per Share button: run once
  window.shoeboxShare = true;
  const post = (path, body) => window.shoebox.api("POST", path, body === undefined ? {} : body);

  function copy(button) {
    const field = button.parentElement.querySelector(".share-url");
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, () => { field.select(); });
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  }

  function request(form, opener) {
    const kind = opener.dataset.shareKind;
    const target = opener.dataset.shareTarget;
    const body = { kind };
    for (const name of ["allow_download", "show_location", "show_details", "show_people"]) {
      body[name] = form.elements[name].checked;
    }
    if (kind === "search") body.query = target;
    else body[`${kind}_id`] = Number(target);
    for (const name of ["title", "password"]) {
      if (form.elements[name].value) body[name] = form.elements[name].value;
    }
    for (const name of ["expires_days", "max_views"]) {
      if (form.elements[name].value) body[name] = Number(form.elements[name].value);
    }
    return body;
  }

  function setUp(opener) {
    const dialog = opener.nextElementSibling;
    if (!dialog || !dialog.classList.contains("share-dialog")) return;
    const form = dialog.querySelector(".share-form");
    const error = form.querySelector(".share-error");
    const result = form.querySelector(".share-result");
    opener.addEventListener("click", () => dialog.showModal());
    form.querySelector(".share-close").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        const share = await post("api/shares", request(form, opener));
        result.querySelector(".share-url").value = share.url;
        result.hidden = false;
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
  }

  function start() {
    document.querySelectorAll(".share-open").forEach(setUp);
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.classList.contains("share-copy")) copy(button);
      if (button.dataset.revoke) {
        try {
          const share = await post(`api/shares/${button.dataset.revoke}/revoke`);
          button.closest("tr").querySelector(".state").textContent = share.state;
          button.remove();
        } catch (failure) {
          alert(failure.message);
        }
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
