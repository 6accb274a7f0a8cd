// Progressive enhancement only: every page works without this file.
// 1. The grid polls its own fragment and swaps the cells that changed (a flag switched off by
//    a person, by self-heal or by watch shows without a reload), announcing each change.
// 2. The enable form reads the chosen verdict file and, if its artefact is revoked for this
//    flag, says so and switches the button off before anything is sent (the controller refuses
//    it anyway).
"use strict";

(function () {
  const POLL_MS = 2000;

  function pollGrid(container) {
    const url = container.getAttribute("data-poll");
    const live = document.getElementById("live");
    let busy = false;
    async function tick() {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (response.status === 401) { window.location.assign("/dashboard/login"); return; }
        if (!response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        const cells = fresh.querySelectorAll("[data-cell]");
        const before = container.querySelectorAll("[data-cell]");
        if (cells.length !== before.length || !container.querySelector("table")) {
          container.replaceChildren(...fresh.body.childNodes);
          return;
        }
        const changes = [];
        cells.forEach(function (cell) {
          const key = cell.getAttribute("data-cell");
          const old = Array.from(before).find(function (c) { return c.getAttribute("data-cell") === key; });
          if (!old) return;
          if (old.getAttribute("data-sig") !== cell.getAttribute("data-sig")) {
            if (old.getAttribute("data-state") !== cell.getAttribute("data-state")) {
              const [flag, env] = key.split("|");
              changes.push(flag + " in " + env + " is now " + cell.getAttribute("data-state"));
            }
            old.replaceWith(document.importNode(cell, true));
          }
        });
        const caption = fresh.querySelector("caption");
        const mine = container.querySelector("caption");
        if (caption && mine) mine.replaceWith(document.importNode(caption, true));
        if (changes.length && live) live.textContent = changes.join(". ") + ".";
      } catch (err) {
        // The controller is restarting or the network dropped: try again next tick.
      } finally {
        busy = false;
      }
    }
    window.setInterval(tick, POLL_MS);
  }

  function subjectOf(text) {
    const envelope = JSON.parse(text);
    const payload = JSON.parse(atob(envelope.payload));
    const subject = payload.subject[0];
    return { name: subject.name, digest: String(subject.digest.sha256).toLowerCase() };
  }

  function guardEnable(form) {
    const input = form.querySelector('input[type="file"]');
    const button = form.querySelector('button[type="submit"]');
    const why = form.querySelector(".why");
    const revoked = (form.getAttribute("data-revoked") || "").split(" ").filter(Boolean);
    if (!input || !button || !why) return;
    input.addEventListener("change", function () {
      why.textContent = "";
      button.disabled = false;
      const file = input.files && input.files[0];
      if (!file) return;
      file.text().then(function (text) {
        let subject;
        try { subject = subjectOf(text); } catch (err) {
          why.textContent = "This file is not a gate verdict (DSSE envelope); the controller will refuse it.";
          return;
        }
        if (revoked.includes(subject.digest)) {
          button.disabled = true;
          why.textContent = "Refused: build " + subject.name + " (artefact " + subject.digest.slice(0, 12) +
            ") is revoked for this flag. A revoked artefact never comes back; gate and enable a new build.";
        } else {
          why.textContent = "";
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const grid = document.getElementById("grid");
    if (grid) pollGrid(grid);
    document.querySelectorAll("form.enable-form").forEach(guardEnable);
  });
})();
