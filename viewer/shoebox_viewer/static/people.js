// shoebox people: face boxes over the photo (placed from their data-box fractions), naming a
// face, "not this person", "not a face", "same person?" suggestions (yes, with an optional
// name, or no), and the person page's rename, hide and merge, through the JSON API.
"use strict";

(function () {
  const { base } = window.shoebox;
  const api = (path, body) => window.shoebox.api("POST", path, body);

  function say(text, bad) {
    const status = document.querySelector(".status");
    if (status) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(bad));
    }
  }

  async function act(work) {
    try {
      await work();
      window.location.reload();
    } catch (e) {
      say(e.message, true);
    }
  }

  function faceBoxes() {
    const boxes = document.querySelector(".face-boxes");
    const stage = document.querySelector(".photo .stage");
    const img = stage && stage.querySelector("img.media");
    if (!boxes || !img) return;
    stage.append(boxes);
    const place = () => {
      for (const box of boxes.querySelectorAll(".face-box")) {
        const [x, y, w, h] = box.dataset.box.split(",").map(Number);
        box.style.left = `${img.offsetLeft + x * img.clientWidth}px`;
        box.style.top = `${img.offsetTop + y * img.clientHeight}px`;
        box.style.width = `${w * img.clientWidth}px`;
        box.style.height = `${h * img.clientHeight}px`;
      }
      boxes.hidden = false;
    };
    if (img.complete && img.naturalWidth) place();
    img.addEventListener("load", place);
    window.addEventListener("resize", place);
  }

  function bind() {
    for (const form of document.querySelectorAll("form.name-face")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const name = form.elements.name.value.trim();
        if (name) act(() => api(`api/faces/${form.dataset.face}`, { name }));
      });
    }
    for (const button of document.querySelectorAll('[data-action="not-person"]')) {
      button.addEventListener("click", () =>
        act(() => api(`api/faces/${button.dataset.face}`, { reject_person_id: Number(button.dataset.person) }))
      );
    }
    for (const button of document.querySelectorAll('[data-action="not-a-face"]')) {
      button.addEventListener("click", () => act(() => api(`api/faces/${button.dataset.face}/not-a-face`, {})));
    }
    for (const form of document.querySelectorAll("form.accept-suggestion")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const name = form.elements.name.value.trim();
        act(() => api(`api/suggestions/${form.dataset.suggestion}/accept`, name ? { name } : {}));
      });
    }
    for (const button of document.querySelectorAll('[data-action="dismiss-suggestion"]')) {
      button.addEventListener("click", () => act(() => api(`api/suggestions/${button.dataset.suggestion}/dismiss`, {})));
    }
    const head = document.querySelector(".person-head");
    if (!head) return;
    const id = head.dataset.person;
    const rename = head.querySelector("form.person-rename");
    if (rename) {
      rename.addEventListener("submit", (event) => {
        event.preventDefault();
        act(() => api(`api/people/${id}`, { name: rename.elements.name.value }));
      });
    }
    const hide = head.querySelector('[data-action="hide-person"]');
    if (hide) hide.addEventListener("click", () => act(() => api(`api/people/${id}`, { hidden: hide.dataset.hidden === "true" })));
    const merge = head.querySelector("form.person-merge");
    if (merge) {
      merge.addEventListener("submit", async (event) => {
        event.preventDefault();
        const into = Number(merge.elements.into.value);
        try {
          await api(`api/people/${id}/merge`, { into });
          window.location.href = base + `person/${into}`;
        } catch (e) {
          say(e.message, true);
        }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    faceBoxes();
    bind();
  });
})();
