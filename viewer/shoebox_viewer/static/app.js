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
        // the page went on in the same month, maybe in the same day
        for (const day of section.querySelectorAll(".day")) {
          const days = last.querySelectorAll(".day");
          const lastDay = days[days.length - 1];
          if (lastDay && lastDay.dataset.day === day.dataset.day) {
            lastDay.querySelector(".grid").append(...day.querySelector(".grid").children);
          } else {
            last.append(document.importNode(day, true));
          }
        }
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
    watchPending();
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

  // --- tiles and previews not made yet, swapped in once they are ----------------------------
  // The page marks them (data-pending="tile" or "preview", on an element inside the photo's
  // [data-id]); api/rendered says which of them are made: asked every 2.5 s while it says some
  // are (slower and slower while none comes, up to every 30 s), until none is left.
  const ASKED_AT_ONCE = 200;
  let pendingTimer = null;
  let pendingDelay = 2500;
  // A stand-in the browser cannot decode (a damaged thumbnail in a file) is hidden: the tile's
  // own tone shows, as for the placeholder, never a broken image.
  const unreadable = (img) => img.classList.add("unreadable");
  document.addEventListener(
    "error",
    (event) => {
      if (event.target instanceof HTMLImageElement && event.target.dataset.pending) unreadable(event.target);
    },
    true
  );

  function watchPending() {
    for (const img of document.querySelectorAll("img[data-pending]")) {
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("loading") !== "lazy") unreadable(img);
    }
    if (pendingTimer !== null) return;
    if (document.querySelector("[data-pending]")) pendingTimer = setTimeout(askPending, pendingDelay);
    else pendingDelay = 2500; // the next ones (a page scrolled in) are asked for soon
  }

  async function askPending() {
    const waiting = new Map(); // id -> the elements that show it
    for (const el of document.querySelectorAll("[data-pending]")) {
      const holder = el.closest("[data-id]");
      if (!holder) {
        el.removeAttribute("data-pending");
        continue;
      }
      const id = holder.dataset.id;
      if (!waiting.has(id)) waiting.set(id, []);
      waiting.get(id).push(el);
    }
    const ids = [...waiting.keys()];
    let swapped = false;
    for (let at = 0; at < ids.length; at += ASKED_AT_ONCE) {
      const some = ids.slice(at, at + ASKED_AT_ONCE);
      let answer;
      try {
        answer = await api("GET", "api/rendered?ids=" + some.join(","));
      } catch (e) {
        break; // asked again later
      }
      const ready = new Set(answer.ready.map(String));
      const still = new Set(answer.pending.map(String));
      for (const id of some.filter((i) => !still.has(i))) {
        for (const el of waiting.get(id)) {
          el.removeAttribute("data-pending"); // made, or gone: asked no more
          if (ready.has(id)) {
            swapIn(el);
            swapped = true;
          }
        }
      }
    }
    pendingDelay = swapped ? 2500 : Math.min(pendingDelay * 1.5, 30000);
    pendingTimer = null;
    watchPending();
  }

  function swapIn(el) {
    // the pending answer was never stored; another URL makes sure the browser asks again
    const attribute = el.tagName === "VIDEO" ? "poster" : "src";
    el.setAttribute(attribute, el.getAttribute(attribute).split("?")[0] + "?made=1");
    el.classList.remove("pending", "unreadable");
  }
  watchPending();

  // --- grids: justified rows, or squares (remembered in a cookie that pages.py reads) ---------
  function gridStyle(button) {
    button.addEventListener("click", () => {
      const squares = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(squares));
      document.querySelector("#photos .sections").classList.toggle("squares", squares);
      const path = new URL(base, window.location.href).pathname;
      const age = squares ? 400 * 86400 : 0; // a year and more; 0 forgets it
      document.cookie = `sb_grid=squares; path=${path}; max-age=${age}; samesite=lax`;
    });
  }

  // --- "On this day" at the top of the timeline, once the page is shown --------------------
  async function fillMemories(slot) {
    try {
      const response = await fetch(slot.dataset.src, { credentials: "same-origin" });
      if (response.ok) slot.innerHTML = await response.text();
      watchPending();
    } catch (e) {
      /* memories are a nicety: the timeline works without them */
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

  // --- choosing photos in a grid, and acting on them all at once ------------------------------
  // Click toggles a tile while selecting; Ctrl/Cmd-click starts selecting; shift-click takes
  // the range from the last tile clicked; a long press (touch) starts selecting; "Select all"
  // in a month's heading takes its tiles. The bar's buttons send the ids in chunks.
  const CHUNK = 1000; // the API takes at most this many ids per call
  const SHARE_MAX = 100; // one link names at most this many photos (an album for more)
  const LONG_PRESS_MS = 500;

  function selection(tools) {
    const photos = document.querySelector("#photos");
    const toggle = tools.querySelector(".select-toggle");
    const actions = tools.querySelector(".selection-tools");
    const count = tools.querySelector(".selection-count");
    const shareOpen = actions.querySelector(".share-open");
    const tiles = () => [...photos.querySelectorAll(".tile")];
    const chosen = () => [...photos.querySelectorAll(".tile.selected")].map((t) => Number(t.dataset.id));
    let last = null; // the tile clicked last: one end of a shift-click's range
    let pressed = false; // a long press selected a tile: the click that follows does nothing
    const plural = (n) => (n === 1 ? "1 photo" : `${n} photos`);
    const update = () => {
      const ids = chosen();
      count.textContent = `${ids.length} selected`;
      actions.querySelectorAll("button").forEach((b) => { b.disabled = ids.length === 0; });
      if (shareOpen) {
        shareOpen.dataset.shareTarget = "id:" + ids.join(",");
        shareOpen.disabled = ids.length === 0 || ids.length > SHARE_MAX;
        shareOpen.title = ids.length > SHARE_MAX ? `One link shares ${SHARE_MAX} photos at most: put them in an album and share it` : "";
      }
    };
    const start = (on) => {
      photos.classList.toggle("selecting", on);
      toggle.setAttribute("aria-pressed", String(on));
      toggle.textContent = on ? "Done" : "Select";
      actions.hidden = !on;
      if (on) fillAlbums();
      else photos.querySelectorAll(".tile.selected").forEach((t) => t.classList.remove("selected"));
      say(tools, "");
      update();
    };
    toggle.addEventListener("click", () => start(!photos.classList.contains("selecting")));

    const pick = (tile, event) => {
      if (event.shiftKey && last && last !== tile && last.isConnected) {
        const all = tiles();
        const [a, b] = [all.indexOf(last), all.indexOf(tile)].sort((x, y) => x - y);
        all.slice(a, b + 1).forEach((t) => t.classList.add("selected"));
      } else {
        tile.classList.toggle("selected");
      }
      last = tile;
      update();
    };
    photos.addEventListener("click", (event) => {
      const group = event.target.closest(".select-group");
      if (group) {
        if (!photos.classList.contains("selecting")) start(true);
        const section = group.closest("section");
        const inside = [...section.querySelectorAll(".tile")];
        const all = inside.every((t) => t.classList.contains("selected"));
        inside.forEach((t) => t.classList.toggle("selected", !all));
        update();
        return;
      }
      const tile = event.target.closest(".tile");
      if (!tile) return;
      if (pressed) {
        pressed = false;
        event.preventDefault();
        return;
      }
      const selecting = photos.classList.contains("selecting");
      if (!selecting && !(event.ctrlKey || event.metaKey)) return;
      event.preventDefault();
      if (!selecting) start(true);
      pick(tile, event);
    });

    let timer = null;
    let origin = null;
    const cancel = () => {
      if (timer) window.clearTimeout(timer);
      timer = null;
    };
    photos.addEventListener("pointerdown", (event) => {
      const tile = event.target.closest(".tile");
      pressed = false; // a long press's click may never come: a new press ends its wait
      if (!tile || event.pointerType === "mouse") return;
      origin = [event.clientX, event.clientY];
      cancel();
      timer = window.setTimeout(() => {
        timer = null;
        pressed = true;
        if (!photos.classList.contains("selecting")) start(true);
        tile.classList.add("selected");
        last = tile;
        update();
      }, LONG_PRESS_MS);
    });
    photos.addEventListener("pointermove", (event) => {
      if (timer && origin && Math.hypot(event.clientX - origin[0], event.clientY - origin[1]) > 10) cancel();
    });
    photos.addEventListener("pointerup", cancel);
    photos.addEventListener("pointercancel", cancel);
    photos.addEventListener("contextmenu", (event) => {
      if (event.target.closest(".tile") && (pressed || photos.classList.contains("selecting"))) event.preventDefault();
    });

    async function inChunks(send) {
      const ids = chosen();
      for (let i = 0; i < ids.length; i += CHUNK) await send(ids.slice(i, i + CHUNK));
      return ids;
    }
    async function act(button, work) {
      button.disabled = true;
      try {
        say(tools, await work());
      } catch (e) {
        say(tools, e.message, true);
      } finally {
        button.disabled = chosen().length === 0;
      }
    }

    actions.querySelectorAll("[data-flag]").forEach((button) => {
      button.addEventListener("click", () => act(button, async () => {
        const flag = button.dataset.flag;
        const value = button.dataset.value === "true";
        const ids = await inChunks((part) => api("POST", "api/photos/flags", { ids: part, [flag]: value }));
        const done = photos.querySelectorAll(".tile.selected");
        if (flag === "favorite") {
          done.forEach((t) => {
            t.classList.toggle("fav", value);
            const heart = t.querySelector(".heart");
            if (value && !heart) {
              const h = document.createElement("span");
              h.className = "heart";
              h.setAttribute("aria-label", "favourite");
              h.textContent = "♥";
              t.append(h);
            } else if (!value && heart) heart.remove();
          });
          return `${plural(ids.length)}: ${value ? "favourites now" : "no longer favourites"}.`;
        }
        done.forEach((t) => t.remove()); // archived photos leave the timeline (and come back)
        update();
        return `${plural(ids.length)} ${value ? "archived: find them under Archive" : "back in the timeline"}.`;
      }));
    });

    const albumBox = actions.querySelector(".bulk-album");
    const albumSelect = albumBox.querySelector("select");
    const albumTitle = albumBox.querySelector("input");
    const showTitle = () => albumTitle.classList.toggle("hidden", albumSelect.value !== "new");
    albumSelect.addEventListener("change", showTitle);
    let filled = false;
    async function fillAlbums() {
      if (filled) return;
      filled = true;
      try {
        const found = await api("GET", "api/albums");
        for (const album of found.items) {
          const option = document.createElement("option");
          option.value = String(album.id);
          option.textContent = album.title;
          albumSelect.insertBefore(option, albumSelect.lastElementChild);
        }
        if (albumSelect.options.length > 1) albumSelect.selectedIndex = 0;
      } catch (e) {
        filled = false;
      }
      showTitle();
    }
    albumBox.querySelector("button").addEventListener("click", (event) => act(event.currentTarget, async () => {
      let albumId = albumSelect.value;
      let title = albumSelect.selectedOptions[0].textContent;
      if (albumId === "new") {
        const album = await api("POST", "api/albums", { title: albumTitle.value });
        albumId = String(album.id);
        title = album.title;
        const option = document.createElement("option");
        option.value = albumId;
        option.textContent = title;
        albumSelect.insertBefore(option, albumSelect.lastElementChild);
        albumSelect.value = albumId;
        albumTitle.value = "";
        showTitle();
      }
      let added = 0;
      await inChunks(async (part) => {
        added += (await api("POST", `api/albums/${albumId}/photos`, { add: part })).added;
      });
      return `${plural(added)} added to “${title}”.`;
    }));
    const download = actions.querySelector('[data-bulk="download"]');
    download.addEventListener("click", () => {
      const ids = chosen();
      if (ids.length > CHUNK) {
        say(tools, `One download holds ${CHUNK} photos at most: put them in an album and download it`, true);
        return;
      }
      window.location.href = `${base}zip?ids=${ids.join(",")}`; // an attachment: the page stays
    });
    const removeButton = actions.querySelector('[data-bulk="remove-from-album"]');
    if (removeButton) {
      removeButton.addEventListener("click", () => act(removeButton, async () => {
        let removed = 0;
        await inChunks(async (part) => {
          removed += (await api("POST", `api/albums/${tools.dataset.album}/photos`, { remove: part })).removed;
        });
        photos.querySelectorAll(".tile.selected").forEach((t) => t.remove());
        update();
        return `${plural(removed)} removed from this album.`;
      }));
    }

    actions.querySelectorAll("[data-visibility]").forEach((button) => {
      button.addEventListener("click", () => act(button, async () => {
        const ids = await inChunks((part) => api("POST", "api/photos/visibility", { ids: part, visibility: button.dataset.visibility }));
        const who = button.dataset.visibility === "private" ? "only you see" : "the household sees";
        return `${plural(ids.length)}: ${who} ${ids.length === 1 ? "it" : "them"} now.`;
      }));
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
    const styleButton = document.querySelector("#photos .grid-style button");
    if (styleButton) gridStyle(styleButton);
    document.querySelectorAll(".memories-slot[data-src]").forEach(fillMemories);
    const article = document.querySelector("article.photo");
    if (article) photoPage(article);
    albumForms();
  });
})();
