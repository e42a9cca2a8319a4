// Full screen on a photo page (a member's or a visitor's): the photo as large as the screen
// allows (`large/ID`, the preview until it has come), zoom (wheel, pinch, double-click or
// double-tap, + and -), pan by dragging, previous and next through the list the page came
// from (arrow keys, swipes, buttons) and a slideshow (space) that any other touch pauses.
// The Fullscreen API where the browser allows it, else an overlay over the page.
"use strict";

(function () {
  const article = document.querySelector("article.photo");
  const opener = article && article.querySelector(".fullscreen-open");
  if (!opener || opener.dataset.ready) return; // a page may include this script twice
  opener.dataset.ready = "1";
  const prefix = opener.dataset.prefix; // url('') or url('s/TOKEN/')
  const SLIDE_MS = 4000;
  const MAX_SCALE = 8;
  const STEP = 1.5; // + and - and the zoom buttons

  const viewer = document.createElement("div");
  viewer.className = "viewer";
  viewer.hidden = true;
  viewer.setAttribute("role", "dialog");
  viewer.setAttribute("aria-label", "Full screen");
  viewer.setAttribute("aria-modal", "true");
  viewer.innerHTML = `
    <img class="picture" alt="" draggable="false">
    <video class="picture" controls playsinline hidden></video>
    <p class="viewer-note" hidden>This one has no picture to show.</p>
    <div class="viewer-bar">
      <button type="button" data-do="prev" aria-label="Previous photo" title="Previous (←)">‹</button>
      <button type="button" data-do="play" aria-label="Slideshow" title="Slideshow (space)" aria-pressed="false">▶</button>
      <button type="button" data-do="next" aria-label="Next photo" title="Next (→)">›</button>
      <button type="button" data-do="out" aria-label="Zoom out" title="Zoom out (−)">−</button>
      <button type="button" data-do="in" aria-label="Zoom in" title="Zoom in (+)">+</button>
      <button type="button" data-do="close" aria-label="Close full screen" title="Close (Esc)">✕</button>
    </div>`;
  document.body.append(viewer);
  const img = viewer.querySelector("img");
  const video = viewer.querySelector("video");
  const note = viewer.querySelector(".viewer-note");
  const button = (name) => viewer.querySelector(`[data-do="${name}"]`);

  let photo = null; // what is shown: {id, prev, next, kind}
  let scale = 1;
  let x = 0; // the picture's offset from the centre, in screen pixels
  let y = 0;
  let playing = false;
  let timer = null;
  let busy = false;

  const read = (el) => ({
    id: el.dataset.id, prev: el.dataset.prev || "", next: el.dataset.next || "",
    kind: el.dataset.kind || "image",
  });

  // --- what is shown -------------------------------------------------------------------------
  function show(p) {
    photo = p;
    viewer.dataset.id = p.id;
    zoomTo(1, 0, 0);
    video.pause();
    video.hidden = p.kind !== "video";
    img.hidden = p.kind !== "image";
    note.hidden = true;
    if (p.kind !== "video") video.removeAttribute("src");
    if (p.kind === "none") {
      img.removeAttribute("src");
      note.hidden = false;
    } else if (p.kind === "video") {
      video.poster = `${prefix}preview/${p.id}`;
      video.src = `${prefix}video/${p.id}`;
    } else {
      img.src = `${prefix}preview/${p.id}`; // at once, from the browser's cache
      const large = new Image();
      large.onload = () => {
        if (photo === p) img.src = large.src;
      };
      large.src = `${prefix}large/${p.id}`;
    }
    button("prev").disabled = !p.prev;
    button("next").disabled = !p.next;
  }
  img.addEventListener("error", () => {
    img.hidden = true;
    note.hidden = false;
  });

  async function go(which) {
    const url = photo && photo[which];
    if (!url || busy) return false;
    busy = true;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const next = page.querySelector("article.photo");
      if (!next) throw new Error("no photo");
      show(read(next));
      history.replaceState(null, "", url); // closing shows that photo's page
      return true;
    } catch (e) {
      stop();
      return false;
    } finally {
      busy = false;
    }
  }

  // --- zoom and pan ----------------------------------------------------------------------------
  function zoomTo(next, cx, cy) {
    // keep the point of the picture at (cx, cy), measured from the centre, where it is
    const wanted = Math.min(MAX_SCALE, Math.max(1, next));
    x = cx - ((cx - x) * wanted) / scale;
    y = cy - ((cy - y) * wanted) / scale;
    scale = wanted;
    panTo(x, y);
  }
  function panTo(nx, ny) {
    // as far as the picture's edges (it fits inside the screen at scale 1), no further
    const box = viewer.getBoundingClientRect();
    const width = img.naturalWidth || box.width; // not decoded yet: as large as the screen
    const height = img.naturalHeight || box.height;
    const fit = Math.min(box.width / width, box.height / height);
    const mx = Math.max(0, (width * fit * scale - box.width) / 2);
    const my = Math.max(0, (height * fit * scale - box.height) / 2);
    x = Math.max(-mx, Math.min(mx, nx));
    y = Math.max(-my, Math.min(my, ny));
    img.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    viewer.classList.toggle("zoomed", scale > 1);
  }
  function centred(clientX, clientY) {
    const box = viewer.getBoundingClientRect();
    return [clientX - box.left - box.width / 2, clientY - box.top - box.height / 2];
  }
  const zoomBy = (factor) => zoomTo(scale * factor, 0, 0);

  viewer.addEventListener("wheel", (e) => {
    e.preventDefault();
    stop();
    zoomTo(scale * Math.exp(-e.deltaY * 0.0015), ...centred(e.clientX, e.clientY));
  }, { passive: false });

  // One pointer drags (or swipes, when not zoomed), two pinch; two taps close together zoom.
  const pointers = new Map();
  let drag = null;
  let pinch = null;
  let lastTap = null;
  const spread = () => {
    const [a, b] = [...pointers.values()];
    return { d: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  };
  viewer.addEventListener("pointerdown", (e) => {
    if (e.target.closest(".viewer-bar") || e.target === video) return;
    stop();
    viewer.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pointers.size === 2) {
      drag = null;
      pinch = { ...spread(), scale };
    } else if (pointers.size === 1) {
      drag = { x: e.clientX, y: e.clientY, px: x, py: y, moved: false };
    }
  });
  viewer.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId)) return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pinch && pointers.size === 2) {
      const now = spread();
      zoomTo(pinch.scale * (now.d / pinch.d), ...centred(now.x, now.y));
    } else if (drag) {
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 10) drag.moved = true;
      if (scale > 1) panTo(drag.px + dx, drag.py + dy);
    }
  });
  function lift(e) {
    if (!pointers.delete(e.pointerId)) return;
    if (pointers.size > 0) return;
    const was = drag;
    const pinched = pinch;
    drag = pinch = null;
    if (!was || pinched || e.type === "pointercancel") return;
    const dx = e.clientX - was.x;
    const dy = e.clientY - was.y;
    if (scale === 1 && Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) {
      go(dx > 0 ? "prev" : "next");
    } else if (!was.moved) {
      const now = Date.now();
      if (lastTap && now - lastTap.t < 350 && Math.hypot(e.clientX - lastTap.x, e.clientY - lastTap.y) < 30) {
        lastTap = null;
        if (scale > 1) zoomTo(1, 0, 0);
        else zoomTo(2.5, ...centred(e.clientX, e.clientY));
      } else {
        lastTap = { t: now, x: e.clientX, y: e.clientY };
      }
    }
  }
  viewer.addEventListener("pointerup", lift);
  viewer.addEventListener("pointercancel", lift);

  // --- the slideshow -----------------------------------------------------------------------------
  function play() {
    playing = true;
    button("play").setAttribute("aria-pressed", "true");
    button("play").textContent = "❚❚";
    viewer.classList.add("playing");
    timer = setTimeout(advance, SLIDE_MS);
  }
  async function advance() {
    if (playing && (await go("next")) && playing) timer = setTimeout(advance, SLIDE_MS);
    else stop();
  }
  function stop() {
    clearTimeout(timer);
    if (!playing) return;
    playing = false;
    button("play").setAttribute("aria-pressed", "false");
    button("play").textContent = "▶";
    viewer.classList.remove("playing");
  }
  const toggle = () => (playing ? stop() : play());

  // --- opening and closing -----------------------------------------------------------------------
  function open() {
    viewer.hidden = false;
    document.body.classList.add("viewing");
    show(read(article));
    if (viewer.requestFullscreen) viewer.requestFullscreen().catch(() => {}); // else the overlay
    button("close").focus();
  }
  function close() {
    if (viewer.hidden) return;
    stop();
    video.pause();
    viewer.hidden = true;
    document.body.classList.remove("viewing");
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (photo && photo.id !== article.dataset.id) window.location.reload(); // its own page
    else opener.focus();
  }
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement) close(); // the browser's own Esc
  });

  const actions = {
    prev: () => { stop(); go("prev"); },
    next: () => { stop(); go("next"); },
    play: toggle,
    in: () => { stop(); zoomBy(STEP); },
    out: () => { stop(); zoomBy(1 / STEP); },
    close,
  };
  viewer.querySelector(".viewer-bar").addEventListener("click", (e) => {
    const chosen = e.target.closest("button");
    if (chosen) actions[chosen.dataset.do]();
  });
  opener.addEventListener("click", open);

  const keys = {
    ArrowLeft: actions.prev, ArrowRight: actions.next, Escape: close, " ": toggle,
    "+": actions.in, "=": actions.in, "-": actions.out,
  };
  // Captured before the page's own keys (app.js), which must not act while this is open.
  window.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (viewer.hidden) {
      const tag = (e.target.tagName || "").toLowerCase();
      const typing = ["input", "textarea", "select"].includes(tag) || document.querySelector("dialog[open]");
      if (e.key === "f" && !typing) open();
      return;
    }
    const act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    e.stopPropagation();
    act();
  }, true);
  window.addEventListener("keyup", (e) => {
    if (!viewer.hidden && e.key === " ") e.preventDefault(); // not also a click on a button
  }, true);
})();
