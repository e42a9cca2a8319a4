// The /duplicates page: "Keep this one" archives the other photos of its group.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.keep");
  if (!button) return;
  const keep = Number(button.dataset.keep);
  const archive = button.dataset.group.split(",").map(Number).filter((id) => id !== keep);
  const status = document.querySelector(".status");
  try {
    await window.shoebox.api("POST", "api/duplicates/keep", { keep, archive });
    button.closest("section.dupes").remove();
    status.textContent = `Kept one; ${archive.length} archived.`;
  } catch (e) {
    status.textContent = `Could not archive: ${e.message}`;
  }
});
