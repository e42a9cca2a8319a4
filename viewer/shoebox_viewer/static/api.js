// shoebox's one way to talk to its JSON API from a page: the base path and the CSRF token come
// from the page's <meta> tags. Loaded before every other script (window.shoebox).
"use strict";

(function () {
  const meta = (name) => {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el ? el.getAttribute("content") : "";
  };
  const base = meta("base") || "/";

  async function api(method, path, body) {
    const response = await fetch(base + path, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token") },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    }
    return data;
  }

  window.shoebox = { meta, base, api };
})();
