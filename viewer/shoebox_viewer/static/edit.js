// Hand edits: the Edit button's dialog. Sends only the fields changed (POST /api/photos/edit),
// then reloads the page to show the photo as the catalog now has it. A click on the dialog's
// map (places.js sends a "pick" event) fills the place field. No inline script: CSP allows none.
"use strict";
(function () {
  if (window.shoeboxEdit) return;
  window.shoeboxEdit = true;
  const FIELDS = ["date", "zone", "shift", "place", "title", "description", "keywords"];

  function changes(form) {
    const body = {};
    for (const name of FIELDS) {
      const field = form.elements[name];
      if (field.value !== field.defaultValue) body[name] = field.value;
    }
    if (body.zone !== undefined && body.date === undefined && form.elements.date.value) {
      body.date = form.elements.date.value; // a new zone for the time shown
    }
    if (body.shift) delete body.date;
    if (body.keywords !== undefined) body.keywords = body.keywords.split(",").map((w) => w.trim()).filter(Boolean);
    return body;
  }

  function setUp(opener) {
    const dialog = opener.nextElementSibling;
    if (!dialog || !dialog.classList.contains("edit-dialog")) return;
    const form = dialog.querySelector(".edit-form");
    const error = form.querySelector(".edit-error");
    opener.addEventListener("click", () => dialog.showModal());
    form.querySelector(".edit-close").addEventListener("click", () => dialog.close());
    const map = form.querySelector(".edit-map");
    if (map) {
      map.addEventListener("pick", (event) => {
        form.elements.place.value = `${event.detail.lat.toFixed(5)}, ${event.detail.lng.toFixed(5)}`;
      });
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const body = changes(form);
      if (!Object.keys(body).length) { dialog.close(); return; }
      body.ids = opener.dataset.ids.split(",").map(Number);
      try {
        await window.shoebox.api("POST", "api/photos/edit", body);
        location.reload();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
  }

  const start = () => document.querySelectorAll(".edit-open").forEach(setUp);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
