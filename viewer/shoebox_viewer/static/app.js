// shoebox pages: infinite scroll of the grids, photo-page keys and swipes, Live Photos,
// favourite/archive toggles and album actions through the JSON API. No framework.
"use strict";

(function () {
  const { base, api } = window.shoebox;

  function say(scope, text, bad) {
    const status = scope.querySelector(".status");
    if (status) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(bad));
    }
  }

  // --- the jump-to-month column ------------------------------------------------------------
  async function fillScrubber(nav) {
    let months;
    try {
      months = await api("GET", "api/months?q=" + encodeURIComponent(nav.dataset.q));
    } catch (e) {
      return; // the column is a convenience: the page works without it
    }
    if (months.length < 2) return;
    const qs = nav.dataset.monthQs;
    let year = 0;
    for (const { year: y, month: m, count } of months) {
      if (y !== year) {
        year = y;
        const label = document.createElement("span");
        label.className = "year";
        label.textContent = String(y);
        nav.append(label);
      }
      const key = `${y}-${String(m).padStart(2, "0")}`;
      const name = new Date(y, m - 1, 1).toLocaleString("en", { month: "long" });
      const link = document.createElement("a");
      link.href = `?${qs}${qs ? "&" : ""}month=${key}`;
      link.title = `${name} ${y}: ${count}`;
      link.textContent = name.slice(0, 3);
      nav.append(link);
    }
    nav.hidden = false;
  }
  document.querySelectorAll(".scrubber[data-q]").forEach(fillScrubber);

  // --- grids: infinite scroll -------------------------------------------------------------
  function appendGrid(html) {
    const sections = document.querySelector("#photos .sections");
    const doc = new DOMParser().parseFromString(html, "text/html");
    for (const section of doc.querySelectorAll("section.month")) {
      const last = sections.lastElementChild;
      if (last && last.dataset.month === section.dataset.month) {
        last.querySelector(".grid").append(...section.querySelector(".grid").children);
      } else {
        sections.append(document.importNode(section, true));
      }
    }
    const oldMore = document.querySelector("#photos .more-wrap");
    const newMore = doc.querySelector(".more-wrap");
    if (oldMore) oldMore.remove();
    if (newMore) {
      sections.after(document.importNode(newMore, true));
      watchMore();
    }
  }

  let loading = false;
  async function loadMore(link) {
    if (loading) return;
    loading = true;
    link.classList.add("loading");
    try {
      const sep = link.href.includes("?") ? "&" : "?";
      const response = await fetch(link.href + sep + "part=grid", { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      appendGrid(await response.text());
    } catch (e) {
      link.classList.remove("loading");
      link.textContent = "Could not load more; tap to try again";
    } finally {
      loading = false;
    }
  }

  let observer = null;
  function watchMore() {
    const link = document.querySelector("#photos .more");
    if (!link) return;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      loadMore(link);
    });
    if ("IntersectionObserver" in window) {
      if (observer) observer.disconnect();
      observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) loadMore(link);
        },
        { rootMargin: "800px 0px" }
      );
      observer.observe(link);
    }
  }

  // --- photo page ---------------------------------------------------------------------------
  function photoPage(article) {
    const id = Number(article.dataset.id);
    const go = (where) => {
      if (where) window.location.href = where;
    };
    document.addEventListener("keydown", (event) => {
      const tag = (event.target.tagName || "").toLowerCase();
      if (["input", "textarea", "select", "video"].includes(tag) || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "ArrowLeft") go(article.dataset.prev);
      if (event.key === "ArrowRight") go(article.dataset.next);
    });
    const stage = article.querySelector(".stage");
    let startX = null;
    let startY = null;
    stage.addEventListener("touchstart", (e) => {
      startX = e.touches[0].clientX;
      startY = e.touches[0].clientY;
    }, { passive: true });
    stage.addEventListener("touchend", (e) => {
      if (startX === null) return;
      const dx = e.changedTouches[0].clientX - startX;
      const dy = e.changedTouches[0].clientY - startY;
      startX = null;
      if (Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) go(dx > 0 ? article.dataset.prev : article.dataset.next);
    }, { passive: true });

    const live = article.querySelector(".live");
    if (live) {
      const clip = live.querySelector("video");
      const play = () => {
        live.classList.add("playing");
        clip.currentTime = 0;
        clip.play().catch(() => live.classList.remove("playing"));
      };
      const stop = () => {
        live.classList.remove("playing");
        clip.pause();
      };
      // a mouse plays it while over it; a touch sends pointerenter too (and mouseenter
      // emulated after touchend): only the tap's click must play it, at the first tap
      live.addEventListener("pointerenter", (e) => {
        if (e.pointerType === "mouse") play();
      });
      live.addEventListener("pointerleave", (e) => {
        if (e.pointerType === "mouse") stop();
      });
      live.addEventListener("click", () => (live.classList.contains("playing") ? stop() : play()));
      live.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          live.classList.contains("playing") ? stop() : play();
        }
      });
    }

    const toggle = (button, field, onText, offText) => {
      button.addEventListener("click", async () => {
        const want = button.getAttribute("aria-pressed") !== "true";
        button.disabled = true;
        try {
          const photo = await api("POST", `api/photos/${id}`, { [field]: want });
          const on = Boolean(photo[field]);
          button.setAttribute("aria-pressed", String(on));
          button.classList.toggle("on", on);
          button.querySelector("span").textContent = on ? onText : offText;
          say(article, "");
        } catch (e) {
          say(article, e.message, true);
        } finally {
          button.disabled = false;
        }
      });
    };
    const fav = article.querySelector('[data-action="favorite"]');
    if (fav) toggle(fav, "favorite", "Favourite", "Add to favourites");
    const arc = article.querySelector('[data-action="archive"]');
    if (arc) toggle(arc, "archived", "Archived", "Archive");
    const hide = article.querySelector('[data-action="private"]');
    if (hide) {
      hide.addEventListener("click", async () => {
        const want = hide.getAttribute("aria-pressed") !== "true";
        hide.disabled = true;
        try {
          await api("POST", "api/photos/visibility", { ids: [id], visibility: want ? "private" : "household" });
          hide.setAttribute("aria-pressed", String(want));
          hide.classList.toggle("on", want);
          hide.querySelector("span").textContent = want ? "Private" : "Make private";
          say(article, want ? "Only you see this photo now." : "The household sees this photo now.");
        } catch (e) {
          say(article, e.message, true);
        } finally {
          hide.disabled = false;
        }
      });
    }

    const form = article.querySelector("form.add-to-album");
    if (form) {
      const select = form.elements.album;
      const title = form.elements.title;
      const showTitle = () => title.classList.toggle("hidden", select.value !== "new");
      select.addEventListener("change", showTitle);
      showTitle();
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          let albumId = select.value;
          if (albumId === "new") {
            const album = await api("POST", "api/albums", { title: title.value });
            albumId = album.id;
          }
          const album = await api("POST", `api/albums/${albumId}/photos`, { add: [id] });
          say(article, album.added ? `Added to “${album.title}”.` : `Already in “${album.title}”.`);
        } catch (e) {
          say(article, e.message, true);
        }
      });
    }
    const cover = article.querySelector('[data-action="cover"]');
    if (cover) {
      cover.addEventListener("click", async () => {
        try {
          await api("POST", `api/albums/${cover.dataset.album}`, { cover_id: id });
          say(article, "This is the album's cover now.");
        } catch (e) {
          say(article, e.message, true);
        }
      });
    }
    const remove = article.querySelector('[data-action="remove-from-album"]');
    if (remove) {
      remove.addEventListener("click", async () => {
        try {
          await api("POST", `api/albums/${remove.dataset.album}/photos`, { remove: [id] });
          go(article.dataset.next || article.dataset.prev || `${base}album/${remove.dataset.album}`);
        } catch (e) {
          say(article, e.message, true);
        }
      });
    }
  }

  // --- albums -------------------------------------------------------------------------------
  function albumForms() {
    const create = document.querySelector("form.new-album");
    if (create) {
      create.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const album = await api("POST", "api/albums", { title: create.elements.title.value });
          window.location.href = `${base}album/${album.id}`;
        } catch (e) {
          say(document, e.message, true);
        }
      });
    }
    const rename = document.querySelector("form.rename");
    if (rename) {
      rename.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const album = await api("POST", `api/albums/${rename.dataset.album}`, { title: rename.elements.title.value });
          const heading = document.querySelector(".page-head h1");
          if (heading && heading.firstChild) heading.firstChild.textContent = album.title + " ";
          document.title = `${album.title} · shoebox`;
        } catch (e) {
          window.alert(e.message);
        }
      });
    }
    const del = document.querySelector('[data-action="delete-album"]');
    if (del) {
      del.addEventListener("click", async () => {
        if (!window.confirm("Delete this album? Its photos stay in the library.")) return;
        try {
          await api("DELETE", `api/albums/${del.dataset.album}`);
          window.location.href = `${base}albums`;
        } catch (e) {
          window.alert(e.message);
        }
      });
    }
  }

  // --- choosing photos in a grid, and making them private or the household's ---------------
  function selection(tools) {
    const photos = document.querySelector("#photos");
    const toggle = tools.querySelector(".select-toggle");
    const actions = tools.querySelector(".selection-tools");
    const count = tools.querySelector(".selection-count");
    const chosen = () => [...photos.querySelectorAll(".tile.selected")].map((t) => Number(t.dataset.id));
    const update = () => {
      const n = chosen().length;
      count.textContent = `${n} selected`;
      actions.querySelectorAll("button").forEach((b) => { b.disabled = n === 0; });
    };
    toggle.addEventListener("click", () => {
      const on = !photos.classList.contains("selecting");
      photos.classList.toggle("selecting", on);
      toggle.setAttribute("aria-pressed", String(on));
      toggle.textContent = on ? "Done" : "Select";
      actions.hidden = !on;
      if (!on) photos.querySelectorAll(".tile.selected").forEach((t) => t.classList.remove("selected"));
      say(tools, "");
      update();
    });
    photos.addEventListener("click", (event) => {
      const tile = event.target.closest(".tile");
      if (!tile || !photos.classList.contains("selecting")) return;
      event.preventDefault();
      tile.classList.toggle("selected");
      update();
    });
    actions.querySelectorAll("[data-visibility]").forEach((button) => {
      button.addEventListener("click", async () => {
        const ids = chosen();
        try {
          await api("POST", "api/photos/visibility", { ids, visibility: button.dataset.visibility });
          const who = button.dataset.visibility === "private" ? "only you see" : "the household sees";
          say(tools, `${ids.length === 1 ? "1 photo" : ids.length + " photos"}: ${who} ${ids.length === 1 ? "it" : "them"} now.`);
        } catch (e) {
          say(tools, e.message, true);
        }
      });
    });
  }

  // --- the menu of a phone: behind a button -----------------------------------------------
  function menu(button) {
    const bar = button.closest(".bar");
    const show = (open) => {
      bar.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
    };
    button.addEventListener("click", () => show(!bar.classList.contains("open")));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") show(false);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const menuButton = document.querySelector(".menu-button");
    if (menuButton) menu(menuButton);
    const tools = document.querySelector(".tools.selection");
    if (tools) selection(tools);
    watchMore();
    const article = document.querySelector("article.photo");
    if (article) photoPage(article);
    albumForms();
  });
})();
